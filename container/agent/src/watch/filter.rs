//! Which paths a watch reports: `include` and `exclude` patterns (`*` any characters, `/` included; `?` one),
//! matched against a path relative to the watched directory. A path under an excluded directory is excluded too
//! (so `node_modules` keeps out everything in it, and it is not watched at all). Pure.

/// A watch's patterns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    include: Vec<String>,
    exclude: Vec<String>,
}

/// The most patterns of each kind.
const MAX_PATTERNS: usize = 64;

impl Filter {
    /// From comma-separated lists; an empty pattern is refused.
    pub fn new(include: Option<&str>, exclude: Option<&str>) -> Result<Filter, String> {
        let split = |what: &str, list: Option<&str>| -> Result<Vec<String>, String> {
            let Some(list) = list else { return Ok(Vec::new()) };
            let patterns: Vec<String> = list.split(',').map(|p| p.trim().trim_matches('/').to_string()).collect();
            if patterns.iter().any(String::is_empty) {
                return Err(format!("{what} has an empty pattern: {list:?}"));
            }
            if patterns.len() > MAX_PATTERNS {
                return Err(format!("{what} may have at most {MAX_PATTERNS} patterns"));
            }
            Ok(patterns)
        };
        Ok(Filter { include: split("include", include)?, exclude: split("exclude", exclude)? })
    }

    /// Whether a path (relative, `/`-separated) or a directory above it is excluded.
    pub fn excluded(&self, relative: &str) -> bool {
        let mut prefix = relative;
        loop {
            if self.exclude.iter().any(|p| matches(p, prefix)) {
                return true;
            }
            match prefix.rsplit_once('/') {
                Some((parent, _)) => prefix = parent,
                None => return false,
            }
        }
    }

    /// Whether a change to `relative` is reported.
    pub fn reports(&self, relative: &str) -> bool {
        !self.excluded(relative) && (self.include.is_empty() || self.include.iter().any(|p| matches(p, relative)))
    }
}

/// Whether `text` matches `pattern` whole (`*`: any run of characters, `?`: one). Iterative, with one point to
/// return to: linear in practice, never exponential.
pub fn matches(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn stars_and_question_marks_match_as_in_a_shell_across_directories() {
        assert!(matches("*.ts", "a.ts"));
        assert!(matches("*.ts", "src/deep/a.ts"));
        assert!(!matches("*.ts", "a.tsx"));
        assert!(matches("src/*", "src/a/b"));
        assert!(matches("?.md", "a.md"));
        assert!(!matches("?.md", "ab.md"));
        assert!(matches("**/x", "a/b/x"));
        assert!(matches("*", ""));
        assert!(!matches("a", ""));
    }

    #[test]
    fn an_excluded_directory_keeps_out_everything_under_it() {
        let filter = Filter::new(Some("*.rs, *.toml"), Some("target,.git")).unwrap();
        assert!(filter.reports("src/main.rs"));
        assert!(!filter.reports("src/notes.txt"), "not included");
        assert!(!filter.reports("target/debug/build.rs"), "under an excluded directory");
        assert!(filter.excluded(".git"));
        assert!(Filter::new(Some("a,,b"), None).is_err());
        assert!(Filter::new(None, None).unwrap().reports("anything/at/all"));
    }

    proptest! {
        /// A pattern of the text itself matches it, and a star-heavy pattern ends quickly on a long text.
        #[test]
        fn literal_patterns_match_themselves(text in "[a-z/.]{0,30}") {
            prop_assert!(matches(&text, &text));
            prop_assert!(matches("*", &text));
            let long = "a".repeat(2000);
            prop_assert!(!matches("*a*a*a*a*a*a*a*b", &long));
        }
    }
}

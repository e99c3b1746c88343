//! Parsing what a session's bash reports on its control pipe (see `script.rs` for the format). Pure.

/// One report from the shell. Exported variables are not in it: the shell writes them to its state file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    /// Command `seq` finished with `status`; `pwd` is the shell's directory after it.
    Done { seq: u64, status: i32, pwd: Vec<u8> },
    /// The shell is exiting with `status`.
    Exit { status: i32, pwd: Vec<u8> },
}

/// Longest field kept: a directory path (`PATH_MAX`) with room to spare. The control pipe can be opened by path
/// from inside the sandbox, so what arrives on it is bounded here: a longer field is dropped whole.
pub const MAX_FIELD: usize = 8192;

/// Splits the control byte stream into reports, whatever the chunking. Holds at most four fields of `MAX_FIELD`
/// bytes, whatever arrives.
#[derive(Debug, Default)]
pub struct ControlParser {
    fields: Vec<Vec<u8>>,
    current: Vec<u8>,
    /// The current field ran past `MAX_FIELD`: skip to its end.
    overlong: bool,
}

impl ControlParser {
    pub fn push(&mut self, bytes: &[u8], out: &mut Vec<Report>) {
        for piece in bytes.split_inclusive(|&b| b == 0) {
            let (field, ended) = match piece.split_last() {
                Some((0, field)) => (field, true),
                _ => (piece, false),
            };
            if !self.overlong && self.current.len() + field.len() > MAX_FIELD {
                self.overlong = true;
                self.current = Vec::new();
            }
            if !self.overlong {
                self.current.extend_from_slice(field);
            }
            if ended {
                if std::mem::take(&mut self.overlong) {
                    // An overlong field is no report's: resynchronise on the next one.
                    self.fields.clear();
                    continue;
                }
                self.fields.push(std::mem::take(&mut self.current));
                if let Some(report) = self.complete() {
                    out.push(report);
                }
            }
        }
    }

    /// Bytes held between pushes (the tests bound it).
    #[cfg(test)]
    fn held(&self) -> usize {
        self.current.len() + self.fields.iter().map(Vec::len).sum::<usize>()
    }

    fn complete(&mut self) -> Option<Report> {
        let needed = match self.fields.first().map(Vec::as_slice) {
            Some(b"D") => 4,
            Some(b"X") => 3,
            // Not a report's start: drop it and resynchronise on the next field.
            Some(_) => {
                self.fields.clear();
                return None;
            }
            None => return None,
        };
        if self.fields.len() < needed {
            return None;
        }
        let mut fields = std::mem::take(&mut self.fields).into_iter().skip(1);
        let mut next = || fields.next().unwrap_or_default();
        let number = |b: Vec<u8>| std::str::from_utf8(&b).ok().and_then(|s| s.parse::<i64>().ok());
        if needed == 4 {
            let seq = number(next())?;
            let status = number(next())?;
            Some(Report::Done { seq: seq as u64, status: status as i32, pwd: next() })
        } else {
            let status = number(next())?;
            Some(Report::Exit { status: status as i32, pwd: next() })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse_in_chunks(bytes: &[u8], chunk: usize) -> Vec<Report> {
        let mut parser = ControlParser::default();
        let mut out = Vec::new();
        for piece in bytes.chunks(chunk) {
            parser.push(piece, &mut out);
        }
        out
    }

    #[test]
    fn reports_survive_any_chunking() {
        let stream = b"D\x003\x000\x00/tmp\x00X\x002\x00/\x00";
        for chunk in 1..stream.len() {
            let reports = parse_in_chunks(stream, chunk);
            assert_eq!(
                reports,
                vec![
                    Report::Done { seq: 3, status: 0, pwd: b"/tmp".to_vec() },
                    Report::Exit { status: 2, pwd: b"/".to_vec() },
                ],
                "chunk {chunk}"
            );
        }
    }

    #[test]
    fn an_endless_field_is_dropped_not_kept() {
        let mut parser = ControlParser::default();
        let mut out = Vec::new();
        for _ in 0..1000 {
            parser.push(&[b'a'; 4096], &mut out);
        }
        assert!(parser.held() <= MAX_FIELD);
        parser.push(b"\x00D\x001\x000\x00/w\x00", &mut out);
        assert_eq!(out, vec![Report::Done { seq: 1, status: 0, pwd: b"/w".to_vec() }]);
    }

    fn encode(report: &Report) -> Vec<u8> {
        match report {
            Report::Done { seq, status, pwd } => {
                [&b"D\0"[..], format!("{seq}\0{status}\0").as_bytes(), pwd, b"\0"].concat()
            }
            Report::Exit { status, pwd } => [&b"X\0"[..], format!("{status}\0").as_bytes(), pwd, b"\0"].concat(),
        }
    }

    fn report() -> impl Strategy<Value = Report> {
        let pwd = proptest::collection::vec(1u8..=255, 0..64);
        prop_oneof![
            (0u64..1_000_000, any::<i32>(), pwd.clone()).prop_map(|(seq, status, pwd)| Report::Done {
                seq,
                status,
                pwd
            }),
            (any::<i32>(), pwd).prop_map(|(status, pwd)| Report::Exit { status, pwd }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn any_bytes_in_any_chunks_parse_alike_and_stay_bounded(
            bytes in proptest::collection::vec(any::<u8>(), 0..4096),
            chunk in 1usize..64,
        ) {
            let whole = parse_in_chunks(&bytes, bytes.len().max(1));
            let mut parser = ControlParser::default();
            let mut out = Vec::new();
            for piece in bytes.chunks(chunk) {
                parser.push(piece, &mut out);
                prop_assert!(parser.held() <= 4 * MAX_FIELD);
            }
            prop_assert_eq!(out, whole);
        }

        #[test]
        fn well_formed_reports_come_back_whatever_the_chunking(
            reports in proptest::collection::vec(report(), 0..8),
            chunk in 1usize..32,
        ) {
            let stream: Vec<u8> = reports.iter().flat_map(encode).collect();
            prop_assert_eq!(parse_in_chunks(&stream, chunk), reports);
        }
    }

    /// The committed corpus (`tests/corpus/control/<name>.<reports>.bin`): each file parses to the number of
    /// reports its name says, alike in every chunking, within the bound.
    #[test]
    fn the_corpus_parses_as_named_in_any_chunking() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/control");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let expected: usize = name.rsplit('.').nth(1).and_then(|n| n.parse().ok()).expect("<name>.<reports>.bin");
            let bytes = std::fs::read(&path).unwrap();
            let whole = parse_in_chunks(&bytes, bytes.len().max(1));
            assert_eq!(whole.len(), expected, "{name}: {whole:?}");
            for chunk in 1..=17 {
                assert_eq!(parse_in_chunks(&bytes, chunk), whole, "{name} in chunks of {chunk}");
            }
            seen += 1;
        }
        assert!(seen >= 10, "the corpus is in {}", dir.display());
    }

    #[test]
    fn garbage_before_a_report_is_skipped() {
        let reports = parse_in_chunks(b"junk\x00D\x001\x00130\x00/w\x00", 4);
        assert_eq!(reports.len(), 1);
        assert!(matches!(reports[0], Report::Done { seq: 1, status: 130, .. }));
    }
}

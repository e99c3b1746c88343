//! Query strings: the routes that take parameters in the URL read and write them as the typed structs beside their
//! other wire types (`CommandsQuery`, `ProcessListQuery`, `LogQuery`, `KillQuery`, `PtyQuery`), so a parameter's
//! name is spelled once, in its struct's serde attributes. Values are percent-encoded both ways.

use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer, Serialize};

/// `path` with `query` after a `?`, or `path` alone when no parameter is set.
pub fn with_query<T: Serialize>(path: &str, query: &T) -> String {
    // Every query struct is flat, of strings, numbers and unit enums, which always encode.
    let encoded = serde_urlencoded::to_string(query).unwrap_or_default();
    if encoded.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{encoded}")
    }
}

/// Reads a query string (the part after `?`, if any) as `T`; the error says which value is refused and why.
pub fn read_query<T: DeserializeOwned>(query: Option<&str>) -> Result<T, String> {
    serde_urlencoded::from_str(query.unwrap_or("")).map_err(|e| e.to_string())
}

/// A whole number, with an error that quotes the text (serde's own says only "invalid digit").
pub(crate) fn whole<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    let text = String::deserialize(d)?;
    text.trim().parse().map(Some).map_err(|_| D::Error::custom(format!("{text:?} is not an offset (a whole number)")))
}

/// A terminal's width or height, from 1 to `MAX_PTY_DIMENSION`.
pub(crate) fn pty_size<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u16>, D::Error> {
    let max = crate::MAX_PTY_DIMENSION;
    let text = String::deserialize(d)?;
    text.parse::<u16>()
        .ok()
        .filter(|n| (1..=max).contains(n))
        .map(Some)
        .ok_or_else(|| D::Error::custom(format!("{text:?} is not a terminal size (a whole number from 1 to {max})")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::*;

    #[test]
    fn a_query_reads_back_as_written() {
        let pty = PtyQuery { cols: Some(120), rows: None, session_id: Some("a b&c".into()), pty_id: None };
        let path = with_query("/v1/pty", &pty);
        assert_eq!(path, "/v1/pty?cols=120&sessionId=a+b%26c");
        assert_eq!(read_query::<PtyQuery>(path.split_once('?').map(|(_, q)| q)).unwrap(), pty);
        assert_eq!(with_query("/v1/commands", &CommandsQuery::default()), "/v1/commands");
        let log = LogQuery { encoding: Some(Encoding::Base64), from: Some(12) };
        assert_eq!(with_query("/x", &log), "/x?encoding=base64&from=12");
        assert_eq!(read_query::<LogQuery>(Some("from=12&encoding=base64")).unwrap(), log);
    }

    #[test]
    fn absent_and_unknown_parameters_are_no_values() {
        assert_eq!(read_query::<PtyQuery>(None).unwrap(), PtyQuery::default());
        assert_eq!(read_query::<LogQuery>(Some("flag&other=1")).unwrap(), LogQuery::default());
        let utf8 = read_query::<LogQuery>(Some("encoding=utf8")).unwrap();
        assert_eq!(utf8.encoding, Some(Encoding::Utf8));
    }

    #[test]
    fn a_refused_value_is_quoted_with_what_was_expected() {
        for (query, expected) in [
            ("cols=0", "\"0\" is not a terminal size (a whole number from 1 to 1000)"),
            ("rows=5000", "\"5000\" is not a terminal size"),
            ("cols=x", "\"x\" is not a terminal size"),
        ] {
            let err = read_query::<PtyQuery>(Some(query)).unwrap_err();
            assert!(err.contains(expected), "{query}: {err}");
        }
        let err = read_query::<LogQuery>(Some("from=x")).unwrap_err();
        assert!(err.contains("\"x\" is not an offset"), "{err}");
        let err = read_query::<LogQuery>(Some("encoding=latin1")).unwrap_err();
        assert!(err.contains("unknown variant `latin1`, expected one of `utf-8`"), "{err}");
        let err = read_query::<ProcessListQuery>(Some("status=sleeping")).unwrap_err();
        assert!(err.contains("unknown variant `sleeping`"), "{err}");
    }
}

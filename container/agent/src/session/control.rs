//! Parsing what a session's bash reports on its control pipe (see `script.rs` for the format). Pure.

/// One report from the shell. Exported variables are not in it: the shell writes them to its state file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    /// Command `seq` finished with `status`; `pwd` is the shell's directory after it.
    Done { seq: u64, status: i32, pwd: Vec<u8> },
    /// The shell is exiting with `status`.
    Exit { status: i32, pwd: Vec<u8> },
}

/// Splits the control byte stream into reports, whatever the chunking.
#[derive(Debug, Default)]
pub struct ControlParser {
    fields: Vec<Vec<u8>>,
    current: Vec<u8>,
}

impl ControlParser {
    pub fn push(&mut self, bytes: &[u8], out: &mut Vec<Report>) {
        for piece in bytes.split_inclusive(|&b| b == 0) {
            match piece.split_last() {
                Some((0, field)) => {
                    self.current.extend_from_slice(field);
                    self.fields.push(std::mem::take(&mut self.current));
                    if let Some(report) = self.complete() {
                        out.push(report);
                    }
                }
                _ => self.current.extend_from_slice(piece),
            }
        }
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
    fn garbage_before_a_report_is_skipped() {
        let reports = parse_in_chunks(b"junk\x00D\x001\x00130\x00/w\x00", 4);
        assert_eq!(reports.len(), 1);
        assert!(matches!(reports[0], Report::Done { seq: 1, status: 130, .. }));
    }
}

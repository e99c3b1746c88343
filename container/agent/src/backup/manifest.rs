//! A save's manifest: every entry of a tree, in a compact binary form with a checksum. Pure: encoding, decoding and
//! the checks that keep a restore inside its target.
//!
//! Decoding refuses, with a reason: a wrong magic or version, a checksum that does not match (a corrupt or
//! truncated manifest), lengths past the end, a path that is empty, absolute, or has an empty, `.` or `..`
//! component or a NUL, a path whose parent is not a directory listed before it (so no entry can be written through
//! a symlink, or land outside the target), a path given twice, and parts that do not add up to the file's size.
//!
//! Layout (little-endian): `SBXM`, version (u8), entry count (u64); per entry its kind (u8: 1 directory, 2 file,
//! 3 symlink), path (u32 length + bytes), mode (u32), mtime (i64 seconds, u32 nanoseconds); a file adds its size
//! (u64), content hash (32 bytes) and parts (u32 count; each a blob hash, an offset in the blob and a length, u64s);
//! a symlink adds its target (u32 length + bytes). Then the BLAKE3 hash of everything before it.

use std::collections::HashSet;

use super::hash::Hash;

const MAGIC: &[u8; 4] = b"SBXM";
const VERSION: u8 = 1;
/// Most entries one manifest may hold.
pub const MAX_ENTRIES: u64 = 2_000_000;
/// Longest path or symlink target, in bytes.
const MAX_PATH: u32 = 4096;
/// Most parts one file may have (a file of up to 4 TiB in 4 MiB chunks).
const MAX_PARTS: u32 = 1 << 20;

/// A file's bytes at `offset..offset + len` of a blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Part {
    pub blob: Hash,
    pub offset: u64,
    pub len: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    Dir,
    /// Its size, the hash of its whole content, and where its bytes are, in order.
    File {
        size: u64,
        hash: Hash,
        parts: Vec<Part>,
    },
    Symlink {
        target: Vec<u8>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Relative to the saved directory, `/`-separated, as bytes (a name need not be UTF-8).
    pub path: Vec<u8>,
    /// Permission bits (`0o7777`).
    pub mode: u32,
    pub mtime: (i64, u32),
    pub kind: Kind,
}

/// Every entry of a saved tree, each directory before what it holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    pub entries: Vec<Entry>,
}

impl Manifest {
    pub fn files(&self) -> usize {
        self.entries.iter().filter(|e| matches!(e.kind, Kind::File { .. })).count()
    }

    /// The bytes of every file (what a restore writes).
    pub fn size(&self) -> u64 {
        self.entries.iter().map(|e| if let Kind::File { size, .. } = e.kind { size } else { 0 }).sum()
    }

    /// Every blob the manifest's files name, each once, in order.
    pub fn blobs(&self) -> Vec<Hash> {
        let mut blobs: Vec<Hash> = self
            .entries
            .iter()
            .filter_map(|e| if let Kind::File { parts, .. } = &e.kind { Some(parts) } else { None })
            .flat_map(|parts| parts.iter().map(|p| p.blob))
            .collect();
        blobs.sort_unstable_by_key(|h| h.0);
        blobs.dedup();
        blobs
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + self.entries.len() * 96);
        out.extend_from_slice(MAGIC);
        out.push(VERSION);
        out.extend_from_slice(&(self.entries.len() as u64).to_le_bytes());
        for entry in &self.entries {
            let kind = match entry.kind {
                Kind::Dir => 1u8,
                Kind::File { .. } => 2,
                Kind::Symlink { .. } => 3,
            };
            out.push(kind);
            put_bytes(&mut out, &entry.path);
            out.extend_from_slice(&entry.mode.to_le_bytes());
            out.extend_from_slice(&entry.mtime.0.to_le_bytes());
            out.extend_from_slice(&entry.mtime.1.to_le_bytes());
            match &entry.kind {
                Kind::Dir => {}
                Kind::File { size, hash, parts } => {
                    out.extend_from_slice(&size.to_le_bytes());
                    out.extend_from_slice(&hash.0);
                    out.extend_from_slice(&(parts.len() as u32).to_le_bytes());
                    for part in parts {
                        out.extend_from_slice(&part.blob.0);
                        out.extend_from_slice(&part.offset.to_le_bytes());
                        out.extend_from_slice(&part.len.to_le_bytes());
                    }
                }
                Kind::Symlink { target } => put_bytes(&mut out, target),
            }
        }
        let sum = Hash::of(&out);
        out.extend_from_slice(&sum.0);
        out
    }

    /// Reads and checks a manifest; the error says what is wrong with it.
    pub fn decode(bytes: &[u8]) -> Result<Manifest, String> {
        if bytes.len() < 4 + 1 + 8 + 32 || &bytes[..4] != MAGIC {
            return Err("not a sandbox-rs backup manifest".into());
        }
        let (body, sum) = bytes.split_at(bytes.len() - 32);
        if Hash::of(body).0 != sum {
            return Err("the manifest's checksum does not match: it is corrupt or truncated".into());
        }
        let mut r = Reader { bytes: body, at: 4 };
        if r.u8()? != VERSION {
            return Err("the manifest is of another version".into());
        }
        let count = r.u64()?;
        if count > MAX_ENTRIES {
            return Err(format!("the manifest lists {count} entries, more than {MAX_ENTRIES}"));
        }
        let mut entries = Vec::with_capacity(count.min(65_536) as usize);
        let mut dirs: HashSet<Vec<u8>> = HashSet::new();
        let mut seen: HashSet<Vec<u8>> = HashSet::new();
        for _ in 0..count {
            let kind = r.u8()?;
            let path = r.bytes()?.to_vec();
            check_path(&path, &dirs)?;
            if !seen.insert(path.clone()) {
                return Err(format!("{} is listed twice", show(&path)));
            }
            let mode = r.u32()? & 0o7777;
            let mtime = (r.i64()?, r.u32()?);
            let kind = match kind {
                1 => {
                    dirs.insert(path.clone());
                    Kind::Dir
                }
                2 => {
                    let size = r.u64()?;
                    let hash = r.hash()?;
                    let count = r.u32()?;
                    if count > MAX_PARTS {
                        return Err(format!("{} has {count} parts", show(&path)));
                    }
                    // A part is 48 bytes: no more room is taken than the bytes left could fill.
                    let mut parts = Vec::with_capacity((count as usize).min(r.left() / 48));
                    for _ in 0..count {
                        let blob = r.hash()?;
                        let (offset, len) = (r.u64()?, r.u64()?);
                        if offset.checked_add(len).is_none_or(|end| end > super::CHUNK) {
                            return Err(format!("{} has a part past the end of a blob", show(&path)));
                        }
                        parts.push(Part { blob, offset, len });
                    }
                    if parts.iter().try_fold(0u64, |sum, p| sum.checked_add(p.len)) != Some(size) {
                        return Err(format!("the parts of {} do not add up to its size", show(&path)));
                    }
                    Kind::File { size, hash, parts }
                }
                3 => Kind::Symlink { target: r.bytes()?.to_vec() },
                other => return Err(format!("{} is of an unknown kind ({other})", show(&path))),
            };
            entries.push(Entry { path, mode, mtime, kind });
        }
        if r.at != body.len() {
            return Err("the manifest has bytes after its last entry".into());
        }
        Ok(Manifest { entries })
    }
}

/// A path for an error message.
pub fn show(path: &[u8]) -> String {
    format!("{:?}", String::from_utf8_lossy(path))
}

/// A relative path of plain names whose parent, if any, is a directory listed before it.
fn check_path(path: &[u8], dirs: &HashSet<Vec<u8>>) -> Result<(), String> {
    let plain = !path.is_empty()
        && !path.contains(&0)
        && path.split(|b| *b == b'/').all(|name| !name.is_empty() && name != b"." && name != b"..");
    if !plain {
        return Err(format!("{} is not a plain relative path", show(path)));
    }
    if let Some(slash) = path.iter().rposition(|b| *b == b'/') {
        if !dirs.contains(&path[..slash]) {
            return Err(format!("{} is not inside a directory listed before it", show(path)));
        }
    }
    Ok(())
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn left(&self) -> usize {
        self.bytes.len() - self.at
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.at.checked_add(n).filter(|end| *end <= self.bytes.len());
        let end = end.ok_or("the manifest ends in the middle of an entry")?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.array::<1>()?[0])
    }

    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    fn i64(&mut self) -> Result<i64, String> {
        Ok(i64::from_le_bytes(self.array()?))
    }

    fn hash(&mut self) -> Result<Hash, String> {
        Ok(Hash(self.array()?))
    }

    fn bytes(&mut self) -> Result<&'a [u8], String> {
        let len = self.u32()?;
        if len > MAX_PATH {
            return Err(format!("a name of {len} bytes, more than {MAX_PATH}"));
        }
        self.take(len as usize)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Whatever bytes come (a caller's, or a corrupt store's), decoding answers, never panics or allocates
        /// without bound; a valid manifest with any byte changed is refused.
        #[test]
        fn any_bytes_decode_to_an_answer(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = Manifest::decode(&bytes);
            let mut framed = b"SBXM\x01".to_vec();
            framed.extend_from_slice(&bytes);
            let sum = Hash::of(&framed);
            framed.extend_from_slice(&sum.0);
            let _ = Manifest::decode(&framed);
        }

        #[test]
        fn a_changed_byte_is_always_caught(at in 0usize..1000, flip in 1u8..=255) {
            let bytes = Manifest { entries: vec![dir("a"), file("a/f", b"data"), link("a/l", "x")] }.encode();
            let mut bad = bytes.clone();
            let at = at % bad.len();
            bad[at] ^= flip;
            prop_assert!(Manifest::decode(&bad).is_err());
        }
    }

    fn dir(path: &str) -> Entry {
        Entry { path: path.into(), mode: 0o755, mtime: (1_700_000_000, 5), kind: Kind::Dir }
    }

    fn file(path: &str, content: &[u8]) -> Entry {
        let blob = Hash::of(content);
        let parts = if content.is_empty() { vec![] } else { vec![Part { blob, offset: 0, len: content.len() as u64 }] };
        let kind = Kind::File { size: content.len() as u64, hash: Hash::of(content), parts };
        Entry { path: path.into(), mode: 0o600, mtime: (-5, 999_999_999), kind }
    }

    fn link(path: &str, target: &str) -> Entry {
        Entry { path: path.into(), mode: 0o777, mtime: (0, 0), kind: Kind::Symlink { target: target.into() } }
    }

    fn refused(entries: Vec<Entry>) -> String {
        Manifest::decode(&Manifest { entries }.encode()).unwrap_err()
    }

    #[test]
    fn a_manifest_reads_back_as_written() {
        let mut odd = file("a/x", b"");
        odd.path = b"a/\xff\xfe name \xe2\x98\x83".to_vec();
        let manifest = Manifest { entries: vec![dir("a"), file("a/f", b"data\0more"), odd, link("a/l", "../../etc")] };
        let bytes = manifest.encode();
        assert_eq!(Manifest::decode(&bytes).unwrap(), manifest);
        assert_eq!((manifest.files(), manifest.size()), (2, 9));
    }

    #[test]
    fn corruption_and_truncation_are_caught() {
        let bytes = Manifest { entries: vec![dir("a"), file("a/f", b"data")] }.encode();
        for at in [0, 5, 20, bytes.len() - 40, bytes.len() - 1] {
            let mut bad = bytes.clone();
            bad[at] ^= 1;
            assert!(Manifest::decode(&bad).is_err(), "a flipped bit at {at}");
        }
        for len in [0, 10, bytes.len() - 1] {
            assert!(Manifest::decode(&bytes[..len]).is_err(), "cut to {len}");
        }
        assert!(Manifest::decode(b"PK\x03\x04 a zip, not a manifest, padded to be long enough....").is_err());
    }

    #[test]
    fn no_entry_can_land_outside_its_target_or_through_a_link() {
        for path in ["", "/etc/passwd", "../x", "a/../../x", "./x", "a//b", "a/.", "x\0y"] {
            let err = refused(vec![dir("a"), file(path, b"x")]);
            assert!(err.contains("not a plain relative path"), "{path:?}: {err}");
        }
        // Under a symlink (written through it), or under a file, or before its directory.
        for entries in [
            vec![link("l", "/etc"), file("l/passwd", b"x")],
            vec![file("f", b"x"), file("f/g", b"x")],
            vec![file("d/g", b"x"), dir("d")],
        ] {
            assert!(refused(entries).contains("not inside a directory listed before it"));
        }
        assert!(refused(vec![file("f", b"x"), link("f", "/etc")]).contains("listed twice"));
    }

    #[test]
    fn parts_must_cover_the_file_and_stay_inside_their_blobs() {
        let mut short = file("f", b"abc");
        if let Kind::File { size, .. } = &mut short.kind {
            *size = 4;
        }
        assert!(refused(vec![short]).contains("do not add up"));
        let mut past = file("f", b"abc");
        if let Kind::File { parts, .. } = &mut past.kind {
            parts[0].offset = super::super::CHUNK;
        }
        assert!(refused(vec![past]).contains("past the end of a blob"));
    }
}

//! Comparing secrets (the Worker's bearer token, a preview's token, the agent's token): one equality whose time
//! depends only on the lengths, so a caller cannot learn a secret a byte at a time from how long a refusal takes.

/// Whether `given` equals `expected`, in time that does not depend on where they differ.
pub fn same_secret(given: &[u8], expected: &[u8]) -> bool {
    let mut diff = given.len() ^ expected.len();
    for i in 0..given.len().max(expected.len()) {
        let x = given.get(i).copied().unwrap_or(0);
        let y = expected.get(i).copied().unwrap_or(0);
        diff |= (x ^ y) as usize;
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_only_when_every_byte_and_the_length_agree() {
        assert!(same_secret(b"abcdefgh01234567", b"abcdefgh01234567"));
        assert!(!same_secret(b"abcdefgh01234567", b"abcdefgh01234568"));
        assert!(!same_secret(b"abcdefgh0123456", b"abcdefgh01234567"));
        assert!(!same_secret(b"", b"x"));
        assert!(same_secret(b"", b""));
    }
}

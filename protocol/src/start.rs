//! Which start of a container an agent belongs to.
//!
//! The Durable Object gives every container it starts a fresh start id (`SANDBOX_START_ID` in its environment),
//! and the agent's boot id then begins with it. Docker restarts a container whose agent died in place (workerd
//! sets the `on-failure` policy); workerd removes that copy, its network with it, when the object next starts the
//! container. An agent of that copy carries the old start id, so the object, waiting for the container it just
//! started, does not take it for the new one and send it calls that would be cut off mid-way. Such a copy keeps the
//! environment of the start, so an agent takes a start id only once per container: it notes the id in its state
//! folder, and an agent that finds it noted there (Docker restarted the container in place) answers without it.

/// The environment variable through which a container learns its start id.
pub const START_ID_ENV: &str = "SANDBOX_START_ID";

/// Longest start id an agent takes.
const MAX_START_ID: usize = 64;

/// The boot id of an agent: `random` alone, or `{start}.{random}` for a container started with a start id. A
/// start id that is not 1 to 64 letters, digits, `-` or `_` is ignored.
pub fn boot_id(start: Option<&str>, random: &str) -> String {
    match start.filter(|s| valid_start_id(s)) {
        Some(start) => format!("{start}.{random}"),
        None => random.to_string(),
    }
}

/// Whether the agent that answered with `boot` was started with `start`.
pub fn started_by(boot: &str, start: &str) -> bool {
    boot.strip_prefix(start).is_some_and(|rest| rest.starts_with('.'))
}

/// Whether `start` can be a start id (1 to 64 letters, digits, `-` or `_`): anything else is ignored.
pub fn valid_start_id(start: &str) -> bool {
    (1..=MAX_START_ID).contains(&start.len())
        && start.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_boot_id_names_its_start() {
        let boot = boot_id(Some("start-1a2b"), "boot-ff00");
        assert_eq!(boot, "start-1a2b.boot-ff00");
        assert!(started_by(&boot, "start-1a2b"));
        assert!(!started_by(&boot, "start-1a2"), "a prefix of the id is another id");
        assert!(!started_by(&boot, "start-9999"));
        assert!(!started_by("boot-ff00", "start-1a2b"));
    }

    #[test]
    fn odd_start_ids_are_ignored() {
        assert_eq!(boot_id(None, "boot-1"), "boot-1");
        assert_eq!(boot_id(Some(""), "boot-1"), "boot-1");
        assert_eq!(boot_id(Some("a.b"), "boot-1"), "boot-1");
        assert_eq!(boot_id(Some("x\r\nSet-Cookie: y"), "boot-1"), "boot-1");
        assert_eq!(boot_id(Some(&"a".repeat(65)), "boot-1"), "boot-1");
        assert_eq!(boot_id(Some(&"a".repeat(64)), "boot-1"), format!("{}.boot-1", "a".repeat(64)));
    }
}

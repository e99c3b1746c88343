//! A start id is good for one agent per container.
//!
//! The Durable Object gives each container it starts a fresh `SANDBOX_START_ID`, and takes only an agent whose boot
//! id carries it (`sandbox_protocol::start`). When the agent dies, Docker restarts the container in place with the
//! same environment, and workerd removes that copy, its network with it, at the object's next start: the copy must
//! not pass for the agent of that start. So the agent notes the id it takes in its state folder, which a restart
//! in place keeps, and an agent that finds its id noted there already answers without it.

use std::io::ErrorKind;
use std::path::Path;

use sandbox_protocol::start::valid_start_id;

/// The file in the state folder that holds the start id taken last.
const TAKEN_FILE: &str = "start-id";

/// The start id this agent may carry: `start`, unless an earlier agent of this container took it already. When the
/// folder cannot be written, the id is kept (a copy could not be told apart, as before this check existed).
pub fn claim(state_dir: &Path, start: String) -> Option<String> {
    if !valid_start_id(&start) {
        tracing::warn!("ignoring an invalid {}", sandbox_protocol::start::START_ID_ENV);
        return None;
    }
    let file = state_dir.join(TAKEN_FILE);
    match std::fs::read_to_string(&file) {
        Ok(taken) if taken == start => {
            tracing::warn!(%start, "the start id was taken by an earlier agent of this container (restarted in place); answering without it");
            return None;
        }
        Ok(_) => {}
        Err(err) if err.kind() == ErrorKind::NotFound => {}
        Err(err) => tracing::warn!(file = %file.display(), %err, "cannot read the start id taken last"),
    }
    let written = std::fs::create_dir_all(state_dir).and_then(|()| {
        let partial = state_dir.join(format!("{TAKEN_FILE}.partial"));
        std::fs::write(&partial, &start)?;
        std::fs::rename(&partial, &file)
    });
    if let Err(err) = written {
        tracing::warn!(dir = %state_dir.display(), %err, "cannot note the start id");
    }
    Some(start)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(tag: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("sandbox-agent-start-claim-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn a_start_id_is_taken_once_and_a_new_one_again() {
        let dir = folder("once");
        assert_eq!(claim(&dir, "start-1".into()).as_deref(), Some("start-1"));
        assert_eq!(claim(&dir, "start-1".into()), None, "a restart in place");
        assert_eq!(claim(&dir, "start-1".into()), None, "and every one after it");
        assert_eq!(claim(&dir, "start-2".into()).as_deref(), Some("start-2"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn invalid_ids_are_not_written_anywhere() {
        let dir = folder("invalid");
        assert_eq!(claim(&dir, "../../etc/passwd".into()), None);
        assert!(!dir.exists());
    }

    #[test]
    fn an_unwritable_folder_keeps_the_id() {
        let dir = folder("unwritable");
        std::fs::write(&dir, "a file, not a folder").unwrap();
        assert_eq!(claim(&dir, "start-1".into()).as_deref(), Some("start-1"));
        assert_eq!(claim(&dir, "start-1".into()).as_deref(), Some("start-1"));
        let _ = std::fs::remove_file(&dir);
    }
}

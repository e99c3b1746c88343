//! Ids the Worker makes: a container start's (`start-…`) and a call's when its caller gave none (`req-…`).

/// `{prefix}-` and 16 random hex digits; `None` when the runtime has no randomness.
pub fn random_id(prefix: &str) -> Option<String> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).ok()?;
    Some(format!("{prefix}-{}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()))
}

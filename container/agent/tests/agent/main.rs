//! The agent's integration tests, one binary: each module is one behaviour, and each test starts the real agent
//! binary on a free port with a workspace of its own (`support`), drives it over HTTP and asserts what it answers.
//! One binary links once and shares the prelude; tests run in parallel threads as they did in separate binaries.
//! Waits are polls of the condition awaited (`support::eventually`), bounded, not fixed sleeps.

mod support;

mod background;
mod backup;
mod bad_input;
mod cancel;
mod commands;
mod concurrency;
mod connections;
mod containment;
mod destroy_race;
mod disconnect;
mod egress;
mod exec_output;
mod expected_boot;
mod file_safety;
mod file_streams;
mod files_api;
mod git_checkout;
mod isolation;
mod jail_attacks;
mod lifecycle;
mod limits;
mod logging;
mod memory;
mod per_command;
mod pid_reuse;
mod ports;
mod processes;
mod queue;
mod resource_limits;
mod session_state;
mod sessions_api;
mod set_env_vars;
mod shell_death;
mod shell_pool;
mod stalled_reader;
mod start_failure;
mod streaming;
mod terminal;
mod timeouts;
mod watch;
mod web_pages;

//! The agent's entry point: parse the command line, run the server.

use sandbox_agent::{parse, Parsed, USAGE};

fn main() {
    sandbox_agent::configure_allocator();
    let config = match parse(std::env::args().skip(1)) {
        Ok(Parsed::Run(config)) => *config,
        Ok(Parsed::Help) => {
            print!("{USAGE}");
            return;
        }
        Ok(Parsed::Version) => {
            println!("sandbox-agent {}", env!("CARGO_PKG_VERSION"));
            return;
        }
        Err(message) => {
            eprintln!("sandbox-agent: {message}\n\n{USAGE}");
            std::process::exit(2);
        }
    };
    // Nothing this agent inherited reaches what it starts (the socket it was given to serve included).
    sandbox_agent::close_inherited_on_exec();
    // A token for this agent comes through the environment (not the command line, which every process of the
    // machine can read), and leaves it before any thread or shell starts.
    let mut config = config;
    if let Ok(token) = std::env::var(sandbox_agent::TOKEN_ENV) {
        std::env::remove_var(sandbox_agent::TOKEN_ENV);
        config.token = Some(token);
    }
    // ... or on standard input, for an agent in a jail, whose sandbox reads every process's environment.
    if config.token_stdin {
        let mut line = String::new();
        match std::io::stdin().read_line(&mut line) {
            Ok(_) if !line.trim().is_empty() => config.token = Some(line.trim().to_string()),
            _ => {
                eprintln!("sandbox-agent: --token-stdin: no token on standard input");
                std::process::exit(2);
            }
        }
    }
    // The start id is the Durable Object's, for the boot id; the sandbox's programs have no use for it.
    if let Ok(start) = std::env::var(sandbox_protocol::start::START_ID_ENV) {
        std::env::remove_var(sandbox_protocol::start::START_ID_ENV);
        config.start_id = Some(start);
    }
    if let Err(message) = sandbox_agent::init_logging() {
        eprintln!("sandbox-agent: {message}");
        std::process::exit(2);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("sandbox-agent: cannot start the runtime: {err}");
            std::process::exit(1);
        }
    };
    if let Err(err) = runtime.block_on(sandbox_agent::run(config)) {
        eprintln!("sandbox-agent: {err}");
        std::process::exit(1);
    }
    // Blocking tasks (file operations) must not hold the exit up.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
}

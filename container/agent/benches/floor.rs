//! The floor under the agent's rows, measured in the same run: a server that does the least any agent could. One
//! thread, std only, HTTP/1.1 keep-alive; a POST whose path ends in `/exec` writes `true; echo <mark>` to one bash
//! over pipes and answers once the mark comes back; every other request (a session's create or delete, health) is
//! answered at once with a short JSON body. It parses nothing it does not need and keeps no state, so the agent's
//! cost over it is what its own work adds (routing, validation, sessions, capture, logs).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

pub struct Floor {
    pub addr: SocketAddr,
    bash: Child,
}

impl Floor {
    pub fn start() -> Floor {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the floor server");
        let addr = listener.local_addr().unwrap();
        let mut bash = Command::new("bash")
            .args(["--norc", "--noprofile"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start bash for the floor server");
        let mut shell =
            Shell { input: bash.stdin.take().unwrap(), output: BufReader::new(bash.stdout.take().unwrap()) };
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                serve(stream, &mut shell);
            }
        });
        Floor { addr, bash }
    }
}

impl Drop for Floor {
    fn drop(&mut self) {
        let _ = self.bash.kill();
        let _ = self.bash.wait();
    }
}

struct Shell {
    input: ChildStdin,
    output: BufReader<ChildStdout>,
}

impl Shell {
    fn run_true(&mut self) {
        self.input.write_all(b"true; echo __floor_mark__\n").unwrap();
        let mut line = String::new();
        while line.trim_end() != "__floor_mark__" {
            line.clear();
            if self.output.read_line(&mut line).unwrap() == 0 {
                panic!("the floor server's bash ended");
            }
        }
    }
}

/// Answers the requests of one connection until the client closes it.
fn serve(stream: TcpStream, shell: &mut Shell) {
    stream.set_nodelay(true).ok();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut length = 0usize;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let path = request_line.split_whitespace().nth(1).unwrap_or("");
        let answer: &[u8] = if request_line.starts_with("POST") && path.ends_with("/exec") {
            shell.run_true();
            br#"{"success":true,"exitCode":0,"stdout":"","stderr":""}"#
        } else {
            br#"{"success":true}"#
        };
        let head =
            format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n", answer.len());
        if writer.write_all(head.as_bytes()).and_then(|()| writer.write_all(answer)).is_err() {
            return;
        }
    }
}

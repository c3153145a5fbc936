//! hello-rust: a tiny HTTP server using only std. Listens on $BIND:$PORT (default
//! 0.0.0.0:8080) and answers every request with one line.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};

fn env(key: &str, default: &str) -> String {
    std::env::var(key).ok().filter(|v| !v.is_empty()).unwrap_or_else(|| default.to_string())
}

fn answer(stream: TcpStream) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    // Read the headers up to the blank line so the client sees a clean close.
    let mut line = String::new();
    while reader.read_line(&mut line)? > 2 {
        line.clear();
    }
    let path = request_line.split_whitespace().nth(1).unwrap_or("/");
    let body = format!("hello from rust ({}/{}) {path}\n", std::env::consts::OS, std::env::consts::ARCH);
    let mut stream = stream;
    write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

fn main() {
    let addr = format!("{}:{}", env("BIND", "0.0.0.0"), env("PORT", "8080"));
    let listener = TcpListener::bind(&addr).unwrap_or_else(|e| {
        eprintln!("hello-rust: cannot listen on {addr}: {e}");
        std::process::exit(1);
    });
    eprintln!("hello-rust listening on {addr}");
    for stream in listener.incoming() {
        match stream {
            Ok(s) => {
                if let Err(e) = answer(s) {
                    eprintln!("hello-rust: {e}");
                }
            }
            Err(e) => eprintln!("hello-rust: {e}"),
        }
    }
}

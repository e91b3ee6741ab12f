//! The `--transport mem|tcp|http` argument shared by the single-use-case examples.

/// The transport named by `--transport` (default `tcp`); exits with status 2 on anything else.
pub fn from_args() -> String {
    let args: Vec<String> = std::env::args().collect();
    let transport = args
        .iter()
        .position(|a| a == "--transport")
        .and_then(|i| args.get(i + 1))
        .map_or("tcp", String::as_str);
    if !matches!(transport, "mem" | "tcp" | "http") {
        eprintln!("--transport must be mem, tcp or http");
        std::process::exit(2);
    }
    transport.to_string()
}

//! `tilefn-ingest`: see the README for the commands.

fn main() -> std::process::ExitCode {
    tilefn_ingest::cli::main()
}

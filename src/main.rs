//! The `parity` binary: parse arguments, run the library, map errors to exit codes.

fn main() {
    std::process::exit(parity::cli::main());
}

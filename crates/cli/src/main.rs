//! The `stormwatch` binary: parses flags, runs the command, maps the outcome to an
//! exit code (0 ok, 1 finished with warnings, 2 could not run).

use std::process::ExitCode;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    match stormwatch_cli::run(std::env::args_os()) {
        Ok(code) => code,
        Err(err) => {
            // A closed pipe (`stormwatch ... | head`) is not a failure.
            if err.chain().any(|e| {
                e.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            eprintln!("stormwatch: error: {err}");
            for cause in err.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::from(2)
        }
    }
}

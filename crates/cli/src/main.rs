//! The `stormwatch` binary: parses flags, runs the command, maps the outcome to an
//! exit code (0 ok, 1 finished with warnings, 2 could not run).

use std::process::ExitCode;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay` (its index in `enum mi_option_e` of
/// `mimalloc.h`, the same in the v2 and v3 sources; `libmimalloc-sys` names no
/// constant for it). The test below fails if an update moves it.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// How long memory the engine freed stays mapped for its next allocations
/// before mimalloc hands it back to the kernel (its default: 1 s).
const PURGE_DELAY_MS: std::ffi::c_long = 10_000;

/// Keeps memory the engine frees mapped for its next allocations for
/// [`PURGE_DELAY_MS`] instead of handing it back to the kernel a second later
/// (mimalloc's default). A run
/// frees and allocates the same sizes over and over (stream windows, HTTP
/// bodies, per-flow state): handed back, every reuse page-faults and the kernel
/// zeroes the memory again — with all Emerging Threats rules loaded that was
/// 4,700 page faults and 7–10% of the CPU time on the 1 GB benchmark capture
/// (`docs/performance.md`). The resident set stays near its peak while the
/// engine is busy (as a sensor's does with Suricata's preallocated pools) and
/// shrinks after ten idle seconds. `MIMALLOC_PURGE_DELAY` in the environment
/// still wins.
#[allow(unsafe_code)]
fn keep_freed_memory() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return;
    }
    // SAFETY: `mi_option_set` stores one integer in mimalloc's option table; any
    // value is valid for this option (milliseconds, -1 = never), and it is called on the
    // main thread before any other thread exists.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS) };
}

fn main() -> ExitCode {
    keep_freed_memory();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_purge_delay_option_is_the_one_keep_freed_memory_sets() {
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
            return;
        }
        // mimalloc v3's default purge delay is 1000 ms; no other option of its
        // table defaults to that value.
        #[allow(unsafe_code)]
        // SAFETY: reads one integer from mimalloc's option table.
        let before = unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
        assert_eq!(
            before, 1000,
            "mimalloc's option index {MI_OPTION_PURGE_DELAY} is not purge_delay"
        );
        keep_freed_memory();
        #[allow(unsafe_code)]
        // SAFETY: as above.
        let after = unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
        assert_eq!(after, PURGE_DELAY_MS);
    }
}

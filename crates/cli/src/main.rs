//! The `stormwatch` binary (under construction).

fn main() {
    println!("stormwatch: under construction");
}

//! Write the crafted inputs of the hostile-input review
//! ([`kbinspect_testkit::hostile`]) into a directory, for
//! `scripts/hostile-time.sh` to time every command on each.
//!
//! ```text
//! cargo run --release -p kbinspect-testkit --example hostile_inputs -- OUT_DIR
//! ```

fn main() {
    let Some(out) = std::env::args_os().nth(1) else {
        eprintln!("usage: hostile_inputs OUT_DIR");
        std::process::exit(2);
    };
    let out = std::path::Path::new(&out);
    std::fs::create_dir_all(out).expect("create the output directory");
    for (name, bytes) in kbinspect_testkit::hostile::inputs() {
        std::fs::write(out.join(name), &bytes).expect("write the input");
        println!("{name} {} bytes", bytes.len());
    }
}

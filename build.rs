//! The page's templates and static files are embedded into the binary
//! (src/assets.rs). The embedding tracks the files it found; this makes a
//! file added to, or removed from, those folders rebuild the crate too.

fn main() {
    println!("cargo::rerun-if-changed=templates");
    println!("cargo::rerun-if-changed=static");
}

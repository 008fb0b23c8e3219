//! load-mart embeds the migrations of sql/mart (sqlx::migrate!); on stable Rust the macro
//! cannot tell cargo to rebuild when they change, so this does.
fn main() {
    println!("cargo:rerun-if-changed=sql/mart");
}

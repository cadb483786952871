//! Links GCC's unwinder into the binaries (`libgcc_eh.a`) on GNU/Linux instead of loading
//! `libgcc_s.so.1` at every start.
//!
//! Every `keychain` call starts a process, and the dynamic loader's work is most of what a short
//! call such as `totp` or `--version` costs before it does anything (issue 24). Loading
//! `libgcc_s` means opening and mapping a fourth object, relocating it and looking up its
//! symbols: about 52,000 of the 765,000 instructions of `keychain --version` (callgrind), for a
//! library that only unwinds panics. The same unwinder linked statically is what
//! `gcc -static-libgcc` and Rust's own `+crt-static` builds use; panics, `catch_unwind` and
//! backtraces work the same. The C library stays dynamic: a static glibc crashes in its NSS
//! lookups (the user name of the audit line, host names) for users not in `/etc/passwd`.
//!
//! Placed before the Rust standard library's own `-lgcc_s` on the link line, the archive
//! resolves the unwinder's symbols first, and `--as-needed` then leaves `libgcc_s` out.
//! `tests/it/hot_paths.rs` checks the built binary loads no `libgcc_s`.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    // With +crt-static, rustc links the unwinder statically itself.
    let crt_static = var("CARGO_CFG_TARGET_FEATURE")
        .split(',')
        .any(|f| f == "crt-static");
    if var("CARGO_CFG_TARGET_OS") == "linux" && var("CARGO_CFG_TARGET_ENV") == "gnu" && !crt_static
    {
        println!("cargo:rustc-link-lib=static:-bundle=gcc_eh");
    }
}

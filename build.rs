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
//!
//! It also packs the executable's relative relocations (`DT_RELR`, `-z pack-relative-relocs`)
//! where the C library it will run on can apply them: keychain is position-independent (ASLR),
//! so the loader rewrites ~19,000 pointers at every start, and the packed table is what it
//! reads for them (`benches/hot_paths.sh` prints relocations and instructions per start). A
//! glibc older than 2.36 refuses such a binary, so the flag is only given when the binary is
//! built for the machine building it and that machine's glibc is 2.36 or newer.

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
        if var("HOST") == var("TARGET") && host_glibc_at_least(2, 36) {
            println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
        }
    }
}

/// The build machine's glibc, as `getconf GNU_LIBC_VERSION` reports it ("glibc 2.36").
fn host_glibc_at_least(major: u32, minor: u32) -> bool {
    let Ok(out) = std::process::Command::new("getconf")
        .arg("GNU_LIBC_VERSION")
        .output()
    else {
        return false;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let Some(version) = text.trim().strip_prefix("glibc ") else {
        return false;
    };
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let found = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    found >= (major, minor)
}

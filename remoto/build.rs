//! Embeds the technician list: the profile named by `REMOTO_PROFILE`
//! (default: `profiles/example.toml`), validated, written to
//! `$OUT_DIR/profile.toml` for `include_str!`. A profile with errors fails
//! the build with every error as `file:line:column: error: …`.
//!
//! For a Windows target it also links a resource with the version
//! information (product name: the embedded profile's brand name) and the
//! program icon, compiled with mingw's `windres` (`$WINDRES`, default
//! `x86_64-w64-mingw32-windres`). Other targets are unaffected.

// The build script runs on the builder's machine and writes only into
// `$OUT_DIR`; the no-file-writes rule of `clippy.toml` is for the program.
#![allow(clippy::disallowed_methods)]

use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn main() -> ExitCode {
    let code = profiles::build::run();
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("windows")
        && let Err(e) = windows_resource()
    {
        println!("cargo::error=Windows resource: {e}");
        return ExitCode::FAILURE;
    }
    code
}

/// Writes `remoto.ico` and `remoto.rc` into `OUT_DIR`, compiles them with
/// windres and links the object into the binaries.
fn windows_resource() -> Result<(), String> {
    println!("cargo::rerun-if-env-changed=WINDRES");
    let out = PathBuf::from(std::env::var("OUT_DIR").map_err(|e| e.to_string())?);
    let brand = brand_name(&out.join(profiles::build::OUT_FILE));
    let version = std::env::var("CARGO_PKG_VERSION").map_err(|e| e.to_string())?;
    let mut parts: Vec<u16> = version
        .split(['.', '-'])
        .take(3)
        .map(|p| p.parse().unwrap_or(0))
        .collect();
    parts.resize(4, 0);
    let numeric = parts
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let ico = out.join("remoto.ico");
    std::fs::write(&ico, icon()).map_err(|e| format!("{}: {e}", ico.display()))?;
    let rc = out.join("remoto.rc");
    let text = format!(
        "#pragma code_page(65001)\n\
         1 ICON \"{ico}\"\n\
         1 VERSIONINFO\n\
         FILEVERSION {numeric}\n\
         PRODUCTVERSION {numeric}\n\
         FILEOS 0x40004\n\
         FILETYPE 0x1\n\
         BEGIN\n\
         BLOCK \"StringFileInfo\"\n\
         BEGIN\n\
         BLOCK \"040904B0\"\n\
         BEGIN\n\
         VALUE \"CompanyName\", \"{brand}\"\n\
         VALUE \"FileDescription\", \"Remoto: remote assistance from {brand}\"\n\
         VALUE \"FileVersion\", \"{version}\"\n\
         VALUE \"InternalName\", \"Remoto\"\n\
         VALUE \"OriginalFilename\", \"Remoto.exe\"\n\
         VALUE \"ProductName\", \"Remoto ({brand})\"\n\
         VALUE \"ProductVersion\", \"{version}\"\n\
         END\n\
         END\n\
         BLOCK \"VarFileInfo\"\n\
         BEGIN\n\
         VALUE \"Translation\", 0x409, 1200\n\
         END\n\
         END\n",
        ico = ico.display().to_string().replace('\\', "/"),
    );
    std::fs::write(&rc, text).map_err(|e| format!("{}: {e}", rc.display()))?;
    let obj = out.join("remoto-resource.o");
    let windres = std::env::var("WINDRES").unwrap_or_else(|_| "x86_64-w64-mingw32-windres".into());
    let status = std::process::Command::new(&windres)
        .arg("--input")
        .arg(&rc)
        .arg("--output")
        .arg(&obj)
        .args(["--output-format=coff"])
        .status()
        .map_err(|e| {
            format!("cannot run {windres} ({e}): install binutils-mingw-w64-x86-64 or set WINDRES")
        })?;
    if !status.success() {
        return Err(format!("{windres} failed ({status})"));
    }
    println!("cargo::rustc-link-arg-bins={}", obj.display());
    Ok(())
}

/// The `[brand] name` of the embedded profile, safe inside an RC string.
fn brand_name(profile: &Path) -> String {
    let name = profiles::load_file(profile, None)
        .map(|v| v.profile.brand.name)
        .unwrap_or_else(|_| "Remoto".into());
    name.chars()
        .filter(|c| !c.is_control())
        .map(|c| if c == '"' { '\'' } else { c })
        .collect()
}

/// A 32×32 32-bit icon (ICO file, one BMP image): a blue rounded square
/// with a white arrow pointing up-right ("sending the screen out").
fn icon() -> Vec<u8> {
    const S: i32 = 32;
    let mut pixels = Vec::with_capacity((S * S * 4) as usize);
    // BMP rows are bottom-up.
    for y in (0..S).rev() {
        for x in 0..S {
            let corner = |cx: i32, cy: i32| (x - cx).pow(2) + (y - cy).pow(2) > 36;
            let outside = (x < 6 && y < 6 && corner(6, 6))
                || (x > 25 && y < 6 && corner(25, 6))
                || (x < 6 && y > 25 && corner(6, 25))
                || (x > 25 && y > 25 && corner(25, 25));
            // Arrow: a diagonal shaft and a head at the top right.
            let shaft = (x + y - (S - 1)).abs() <= 2 && (8..=22).contains(&x);
            let head = ((15..=24).contains(&x) && (9..=11).contains(&y))
                || ((9..=18).contains(&y) && (22..=24).contains(&x));
            let (b, g, r, a) = if outside {
                (0, 0, 0, 0)
            } else if shaft || head {
                (255, 255, 255, 255)
            } else {
                (0xc4, 0x6b, 0x2a, 255)
            };
            pixels.extend_from_slice(&[b, g, r, a]);
        }
    }
    let mask = vec![0u8; (S * 4) as usize]; // 32 bits per row, all opaque (alpha decides)
    let image_len = 40 + pixels.len() + mask.len();
    let mut ico = Vec::with_capacity(22 + image_len);
    ico.extend_from_slice(&[0, 0, 1, 0, 1, 0]); // ICONDIR: icon, one image
    ico.extend_from_slice(&[S as u8, S as u8, 0, 0, 1, 0, 32, 0]);
    ico.extend_from_slice(&(image_len as u32).to_le_bytes());
    ico.extend_from_slice(&22u32.to_le_bytes());
    // BITMAPINFOHEADER (height doubled: colour + mask).
    ico.extend_from_slice(&40u32.to_le_bytes());
    ico.extend_from_slice(&S.to_le_bytes());
    ico.extend_from_slice(&(2 * S).to_le_bytes());
    ico.extend_from_slice(&1u16.to_le_bytes());
    ico.extend_from_slice(&32u16.to_le_bytes());
    ico.extend_from_slice(&[0u8; 24]);
    ico.extend_from_slice(&pixels);
    ico.extend_from_slice(&mask);
    ico
}

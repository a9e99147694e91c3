//! Packed trailers: round trip, repack, damaged trailers, signed PE files,
//! and loading at run time.

use profiles::trailer::{FOOTER_LEN, strip};
use profiles::{
    ProfileError, ProfileSource, TrailerError, load_for_exe_on, pack, read_trailer,
    read_trailer_file,
};
use time::macros::date;

const KEY: &str = "rmt17ga4i4tcgu63ji3anfvlh2h2fuod5n7fuvtmsmdp6ssk7sru3n4jnniv34";

fn profile(id: &str) -> String {
    format!(
        "[brand]\nname = \"t\"\nexpires = 2030-01-01\n\n[[technician]]\nid = \"{id}\"\nendpoints = [\"h:5500\"]\npublic_key = \"{KEY}\"\n"
    )
}

fn elf() -> Vec<u8> {
    let mut b = b"\x7fELF\x02\x01\x01\0".to_vec();
    b.extend((0..5000u32).map(|i| (i * 7 % 251) as u8));
    b
}

/// A minimal PE (PE32+ or PE32) with an empty security directory.
fn pe(plus: bool) -> Vec<u8> {
    let mut b = vec![0u8; 0x40];
    b[..2].copy_from_slice(b"MZ");
    b[0x3c..0x40].copy_from_slice(&0x40u32.to_le_bytes());
    b.extend_from_slice(b"PE\0\0");
    let opt_size: u16 = if plus { 240 } else { 224 };
    let mut coff = [0u8; 20];
    coff[0..2].copy_from_slice(&0x8664u16.to_le_bytes());
    coff[16..18].copy_from_slice(&opt_size.to_le_bytes());
    b.extend_from_slice(&coff);
    let mut opt = vec![0u8; opt_size as usize];
    let (magic, count_at) = if plus { (0x20bu16, 108) } else { (0x10b, 92) };
    opt[0..2].copy_from_slice(&magic.to_le_bytes());
    opt[count_at..count_at + 4].copy_from_slice(&16u32.to_le_bytes());
    b.extend_from_slice(&opt);
    b.extend((0..3001u32).map(|i| (i * 13 % 253) as u8)); // odd length: signing pads
    b
}

fn security_dir_at(plus: bool) -> usize {
    0x40 + 4 + 20 + if plus { 112 } else { 96 } + 4 * 8
}

/// What osslsigncode does: pad to 8 bytes, append a WIN_CERTIFICATE, point
/// the security directory at it.
fn sign(mut b: Vec<u8>, plus: bool) -> Vec<u8> {
    while !b.len().is_multiple_of(8) {
        b.push(0);
    }
    let offset = b.len() as u32;
    let cert_body = vec![0x30u8; 1200]; // stands in for the PKCS#7 blob
    let len = (8 + cert_body.len()) as u32;
    b.extend_from_slice(&len.to_le_bytes());
    b.extend_from_slice(&0x0200u16.to_le_bytes());
    b.extend_from_slice(&0x0002u16.to_le_bytes());
    b.extend_from_slice(&cert_body);
    let at = security_dir_at(plus);
    b[at..at + 4].copy_from_slice(&offset.to_le_bytes());
    b[at + 4..at + 8].copy_from_slice(&len.to_le_bytes());
    b
}

#[test]
fn round_trip() {
    let bin = elf();
    assert_eq!(read_trailer(&bin).unwrap(), None);
    let packed = pack(&bin, &profile("A")).unwrap();
    assert_eq!(packed.len(), bin.len() + profile("A").len() + FOOTER_LEN);
    assert_eq!(
        &packed[..bin.len()],
        &bin[..],
        "the executable is untouched"
    );
    assert_eq!(read_trailer(&packed).unwrap(), Some(profile("A")));
    assert_eq!(strip(&packed).unwrap(), &bin[..]);
    // An empty profile and an empty binary are still well-formed trailers.
    assert_eq!(
        read_trailer(&pack(&[], "").unwrap()).unwrap(),
        Some(String::new())
    );
}

#[test]
fn repack_replaces() {
    let bin = elf();
    let once = pack(&bin, &profile("A")).unwrap();
    let twice = pack(&once, &profile("Bravo")).unwrap();
    assert_eq!(twice, pack(&bin, &profile("Bravo")).unwrap());
    assert_eq!(read_trailer(&twice).unwrap(), Some(profile("Bravo")));
}

#[test]
fn truncated() {
    let packed = pack(&elf(), &profile("A")).unwrap();
    for cut in 1..=FOOTER_LEN - 8 {
        let err = read_trailer(&packed[..packed.len() - cut]).unwrap_err();
        assert!(
            matches!(err, TrailerError::Truncated { missing } if missing == cut),
            "cut {cut}: {err}"
        );
    }
    // Repacking a truncated file is refused too.
    assert!(matches!(
        pack(&packed[..packed.len() - 3], "x"),
        Err(TrailerError::Truncated { .. })
    ));
}

#[test]
fn wrong_checksum() {
    let mut packed = pack(&elf(), &profile("A")).unwrap();
    let at = packed.len() - FOOTER_LEN - 5;
    packed[at] ^= 0x20;
    let err = read_trailer(&packed).unwrap_err();
    assert!(matches!(err, TrailerError::ChecksumMismatch), "{err}");
    assert!(err.to_string().contains("checksum"));
}

#[test]
fn length_outside_file() {
    let packed = pack(&elf(), &profile("A")).unwrap();
    let len_at = packed.len() - FOOTER_LEN + 16;
    for bogus in [
        packed.len() as u64,
        u64::MAX,
        (packed.len() - FOOTER_LEN + 1) as u64,
    ] {
        let mut p = packed.clone();
        p[len_at..len_at + 8].copy_from_slice(&bogus.to_le_bytes());
        let err = read_trailer(&p).unwrap_err();
        assert!(
            matches!(err, TrailerError::LengthOutsideFile { length, .. } if length == bogus),
            "{err}"
        );
    }
    // Inside the file but above the size limit.
    let big = vec![b'#'; 300 * 1024];
    let mut p = pack(&big, &profile("A")).unwrap();
    let len_at = p.len() - FOOTER_LEN + 16;
    p[len_at..len_at + 8].copy_from_slice(&(290u64 * 1024).to_le_bytes());
    assert!(matches!(
        read_trailer(&p),
        Err(TrailerError::TooLarge { .. })
    ));
}

#[test]
fn other_damage() {
    let packed = pack(&elf(), &profile("A")).unwrap();
    let foot = packed.len() - FOOTER_LEN;
    let mut p = packed.clone();
    p[foot] = b'X';
    assert!(matches!(read_trailer(&p), Err(TrailerError::BadHeader)));
    let mut p = packed.clone();
    p[foot + 8] = 9;
    assert!(matches!(
        read_trailer(&p),
        Err(TrailerError::UnsupportedVersion(9))
    ));
    let bad_utf8 = {
        let mut b = pack(&elf(), "ab").unwrap();
        let n = b.len() - FOOTER_LEN;
        b[n - 1] = 0xff;
        // Fix the checksum so that only the encoding is wrong.
        let sum: [u8; 32] = <blake2::Blake2s256 as blake2::Digest>::digest(b"a\xff").into();
        b[n + 24..n + 56].copy_from_slice(&sum);
        b
    };
    assert!(matches!(
        read_trailer(&bad_utf8),
        Err(TrailerError::NotUtf8)
    ));
    let too_big = "x".repeat(profiles::MAX_PROFILE_SIZE + 1);
    assert!(matches!(
        pack(&elf(), &too_big),
        Err(TrailerError::TooLarge { .. })
    ));
}

#[test]
fn tiny_and_junk_inputs_never_panic() {
    for n in 0..200 {
        let junk: Vec<u8> = (0..n).map(|i| (i * 31 % 256) as u8).collect();
        let _ = read_trailer(&junk);
    }
    let packed = pack(&pe(true), &profile("A")).unwrap();
    let signed = sign(packed, true);
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..3000 {
        let mut b = signed.clone();
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        // Hit the headers and the trailer area most of the time.
        let at = match seed % 3 {
            0 => (seed >> 8) as usize % 0x200,
            _ => b.len() - 1 - (seed >> 8) as usize % 1400,
        };
        b[at] = (seed >> 40) as u8;
        let _ = read_trailer(&b);
        let _ = pack(&b, "x");
    }
}

#[test]
fn pe_with_certificate_table_after_the_trailer() {
    for plus in [true, false] {
        let bin = pe(plus);
        let packed = pack(&bin, &profile("A")).unwrap();
        let signed = sign(packed.clone(), plus);
        assert!(signed.len() > packed.len() + 1000);
        assert_eq!(
            read_trailer(&signed).unwrap(),
            Some(profile("A")),
            "PE32+ = {plus}"
        );
        // Packing a signed binary is refused: sign after packing.
        assert!(matches!(
            pack(&signed, &profile("B")),
            Err(TrailerError::Signed)
        ));
        // A signed PE without trailer reads as "no trailer".
        assert_eq!(read_trailer(&sign(bin.clone(), plus)).unwrap(), None);
        // Damage before the certificate table is still reported.
        let mut damaged = signed.clone();
        damaged[packed.len() - FOOTER_LEN - 3] ^= 1;
        assert!(matches!(
            read_trailer(&damaged),
            Err(TrailerError::ChecksumMismatch)
        ));
    }
    // A security directory pointing outside the file is ignored, not trusted.
    let mut b = sign(pack(&pe(true), "x").unwrap(), true);
    let at = security_dir_at(true);
    b[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(read_trailer(&b).unwrap(), None);
}

#[test]
fn from_file_and_load_for_exe() {
    let dir = tempfile::tempdir().unwrap();
    let today = date!(2026 - 06 - 15);
    let exe = dir.path().join("remoto");
    let embedded = profile("Embedded");

    std::fs::write(&exe, elf()).unwrap();
    assert_eq!(read_trailer_file(&exe).unwrap(), None);
    let l = load_for_exe_on(&exe, &embedded, today).unwrap();
    assert_eq!(l.source, ProfileSource::Embedded);
    assert_eq!(l.profile.technicians[0].id, "Embedded");

    std::fs::write(
        &exe,
        sign(pack(&pe(true), &profile("Packed")).unwrap(), true),
    )
    .unwrap();
    assert_eq!(read_trailer_file(&exe).unwrap(), Some(profile("Packed")));
    let l = load_for_exe_on(&exe, &embedded, today).unwrap();
    assert_eq!(l.source, ProfileSource::Packed);
    assert_eq!(l.profile.technicians[0].id, "Packed");

    // A damaged trailer is an error, not a silent fall back.
    let packed = pack(&elf(), &profile("Packed")).unwrap();
    std::fs::write(&exe, &packed[..packed.len() - 10]).unwrap();
    let err = load_for_exe_on(&exe, &embedded, today).unwrap_err();
    assert!(
        matches!(
            err,
            ProfileError::Trailer {
                source: TrailerError::Truncated { .. },
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("remoto"), "{err}");

    // A packed profile with errors is reported with its place.
    std::fs::write(&exe, pack(&elf(), "[brand]\nname = 1\n").unwrap()).unwrap();
    let err = load_for_exe_on(&exe, &embedded, today).unwrap_err();
    assert!(
        err.to_string().contains("(packed profile):2:8: error"),
        "{err}"
    );

    // Expired.
    std::fs::write(&exe, elf()).unwrap();
    let err = load_for_exe_on(&exe, &embedded, date!(2030 - 01 - 02)).unwrap_err();
    assert!(
        matches!(
            err,
            ProfileError::Expired {
                from: ProfileSource::Embedded,
                ..
            }
        ),
        "{err}"
    );

    // Missing executable.
    let err = load_for_exe_on(&dir.path().join("nope"), &embedded, today).unwrap_err();
    assert!(matches!(err, ProfileError::Io { .. }));
}

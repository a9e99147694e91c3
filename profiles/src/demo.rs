//! The demo technician of `example.toml`. DEMO ONLY: this private key is
//! public (it is in the source repository); never use it for real customers.

/// The text of `profiles/demo-technician.key`, for
/// `crypto::KeyPair::from_file_text` (the file in a checkout is usually not
/// mode 0600, so `KeyPair::load` would refuse it).
pub const TECHNICIAN_KEY: &str = include_str!("../demo-technician.key");

/// The demo technician's ID in `example.toml`.
pub const TECHNICIAN_ID: &str = "Demo";

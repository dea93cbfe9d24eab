//! Generate the TEST-ONLY certificate authority of the bundled samples,
//! once: `cargo run --release --example gen_test_keys -- testdata/trust/test-keys/`
//!
//! Writes `TEST-ONLY-root.key.pem`, `TEST-ONLY-root.pem`,
//! `TEST-ONLY-signer.key.pem` and `TEST-ONLY-signer.pem` (RSA 2048), and
//! the ECDSA pair `TEST-ONLY-ecdsa-root{.key,}.pem` (P-384, signs with
//! ECDSA/SHA-384) and `TEST-ONLY-ecdsa-signer{.key,}.pem` (P-256, signs
//! with ECDSA/SHA-256). The RSA keys come from a fixed seed, the ECDSA
//! scalars are hashes of fixed labels, ECDSA signatures are deterministic
//! (RFC 6979) and the certificates have fixed serials and validity, so a
//! rerun (with the same `rsa`/`rand`/`p256`/`p384` versions) writes the
//! same files. The sample generator (`src/sample/sign.rs`) reads the
//! committed files, not this program. These keys are public: never trust
//! them anywhere else.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use der::Decode;
use der::Encode;
use der::asn1::ObjectIdentifier;
use rand::SeedableRng;
use rsa::pkcs8::EncodePrivateKey;
use spki::{EncodePublicKey, SubjectPublicKeyInfoOwned};
use x509_cert::builder::profile::BuilderProfile;
use x509_cert::builder::{Builder, CertificateBuilder};
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages};
use x509_cert::ext::{Extension, ToExtension};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::Validity;

use kbinspect_testkit::sign::{ECDSA_ROOT_NAME, ECDSA_SIGNER_NAME, ROOT_NAME, SIGNER_NAME, pem};

struct Profile {
    issuer: Name,
    subject: Name,
    ca: bool,
}

impl BuilderProfile for Profile {
    fn get_issuer(&self, _: &Name) -> Name {
        self.issuer.clone()
    }
    fn get_subject(&self) -> Name {
        self.subject.clone()
    }
    fn build_extensions(
        &self,
        _: spki::SubjectPublicKeyInfoRef<'_>,
        _: spki::SubjectPublicKeyInfoRef<'_>,
        tbs: &x509_cert::certificate::TbsCertificate,
    ) -> x509_cert::builder::Result<Vec<Extension>> {
        let subject = tbs.subject();
        let mut v = vec![
            BasicConstraints {
                ca: self.ca,
                path_len_constraint: None,
            }
            .to_extension(subject, &[])?,
        ];
        if self.ca {
            v.push(
                KeyUsage(KeyUsages::KeyCertSign | KeyUsages::CRLSign).to_extension(subject, &[])?,
            );
        } else {
            v.push(KeyUsage(KeyUsages::DigitalSignature.into()).to_extension(subject, &[])?);
            v.push(
                ExtendedKeyUsage(vec![
                    // Code signing (cabinets) and Windows system component
                    // verification (catalogs).
                    ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.3"),
                    ObjectIdentifier::new_unwrap("1.3.6.1.4.1.311.10.3.6"),
                ])
                .to_extension(subject, &[])?,
            );
        }
        Ok(v)
    }
}

fn main() -> anyhow::Result<()> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "testdata/trust/test-keys".into()),
    );
    std::fs::create_dir_all(&dir)?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(975_354);
    let root_key = rsa::PrivateKey::new(&mut rng, 2048)?;
    let signer_key = rsa::PrivateKey::new(&mut rng, 2048)?;
    let root_name = Name::from_str(ROOT_NAME)?;
    let signer_name = Name::from_str(SIGNER_NAME)?;
    // 2009-01-01 to 2049-12-31 (UTCTime): covers the samples' signing time.
    let validity = Validity::new(
        x509_cert::time::Time::try_from(
            std::time::UNIX_EPOCH + Duration::from_secs(1_230_768_000),
        )?,
        x509_cert::time::Time::try_from(
            std::time::UNIX_EPOCH + Duration::from_secs(2_524_607_999),
        )?,
    );
    let root_signer = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(root_key.clone());
    let cert = |subject: &Name, ca: bool, serial: u32, key: &rsa::PrivateKey| {
        let spki = SubjectPublicKeyInfoOwned::from_der(
            key.to_public_key().to_public_key_der()?.as_bytes(),
        )?;
        let b = CertificateBuilder::new(
            Profile {
                issuer: root_name.clone(),
                subject: subject.clone(),
                ca,
            },
            SerialNumber::from(serial),
            validity,
            spki,
        )?;
        anyhow::Ok(b.build::<_, rsa::pkcs1v15::Signature>(&root_signer)?)
    };
    let root = cert(&root_name, true, 0x7e57_0001, &root_key)?;
    let signer = cert(&signer_name, false, 0x7e57_0002, &signer_key)?;
    let write = |name: &str, label: &str, der: &[u8]| {
        let path = dir.join(name);
        std::fs::write(&path, pem(label, der))?;
        eprintln!("{}", path.display());
        anyhow::Ok(())
    };
    write(
        "TEST-ONLY-root.key.pem",
        "PRIVATE KEY",
        root_key.to_pkcs8_der()?.as_bytes(),
    )?;
    write("TEST-ONLY-root.pem", "CERTIFICATE", &root.to_der()?)?;
    write(
        "TEST-ONLY-signer.key.pem",
        "PRIVATE KEY",
        signer_key.to_pkcs8_der()?.as_bytes(),
    )?;
    write("TEST-ONLY-signer.pem", "CERTIFICATE", &signer.to_der()?)?;

    // ECDSA: a P-384 root over a P-256 signer.
    use sha2::Digest as _;
    let ec_root_key = p384::ecdsa::SigningKey::from_slice(&sha2::Sha384::digest(
        b"kbinspect TEST-ONLY ECDSA P-384 root key",
    ))?;
    let ec_signer_key = p256::ecdsa::SigningKey::from_slice(&sha2::Sha256::digest(
        b"kbinspect TEST-ONLY ECDSA P-256 signer key",
    ))?;
    let ec_root_name = Name::from_str(ECDSA_ROOT_NAME)?;
    let ec_cert = |subject: &Name, ca: bool, serial: u32, spki_der: &[u8]| {
        let b = CertificateBuilder::new(
            Profile {
                issuer: ec_root_name.clone(),
                subject: subject.clone(),
                ca,
            },
            SerialNumber::from(serial),
            validity,
            SubjectPublicKeyInfoOwned::from_der(spki_der)?,
        )?;
        anyhow::Ok(b.build::<_, p384::ecdsa::DerSignature>(&ec_root_key)?)
    };
    let ec_root = ec_cert(
        &ec_root_name,
        true,
        0x7e57_ec01,
        ec_root_key.verifying_key().to_public_key_der()?.as_bytes(),
    )?;
    let ec_signer = ec_cert(
        &Name::from_str(ECDSA_SIGNER_NAME)?,
        false,
        0x7e57_ec02,
        ec_signer_key
            .verifying_key()
            .to_public_key_der()?
            .as_bytes(),
    )?;
    write(
        "TEST-ONLY-ecdsa-root.key.pem",
        "PRIVATE KEY",
        ec_root_key.to_pkcs8_der()?.as_bytes(),
    )?;
    write(
        "TEST-ONLY-ecdsa-root.pem",
        "CERTIFICATE",
        &ec_root.to_der()?,
    )?;
    write(
        "TEST-ONLY-ecdsa-signer.key.pem",
        "PRIVATE KEY",
        ec_signer_key.to_pkcs8_der()?.as_bytes(),
    )?;
    write(
        "TEST-ONLY-ecdsa-signer.pem",
        "CERTIFICATE",
        &ec_signer.to_der()?,
    )?;
    Ok(())
}

//! Finding codes: one variant per code kbinspect emits, written out as the
//! stable kebab-case string users match on (`cab-checksum`). The tables in
//! `docs/*.md` say the same; `tests` below keeps the two in step.

use std::fmt;
use std::str::FromStr;

/// Declares [`Code`] and its strings from one list, so that a variant,
/// its string and its place in [`Code::ALL`] cannot drift apart.
macro_rules! codes {
    ($( $(#[doc = $doc:literal])+ $variant:ident = $text:literal, )+) => {
        /// What a [`Finding`](super::Finding) is about, as a stable identifier.
        /// Serialized (and displayed) as its kebab-case string, e.g.
        /// `Code::CabChecksum` as `cab-checksum`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum Code {
            $( $(#[doc = $doc])+ $variant, )+
        }

        impl Code {
            /// Every code, in declaration order.
            pub const ALL: &'static [Code] = &[$(Code::$variant),+];

            /// The kebab-case string: the `code` of JSON output.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Code::$variant => $text,)+
                }
            }
        }

        impl FromStr for Code {
            type Err = UnknownCode;
            fn from_str(s: &str) -> Result<Code, UnknownCode> {
                match s {
                    $($text => Ok(Code::$variant),)+
                    _ => Err(UnknownCode(s.to_string())),
                }
            }
        }
    };
}

codes! {
    // Containers: the CAB reader and the walk (docs/containers.md).
    /// A CFDATA checksum does not match; also reported on every member whose bytes come from that block.
    CabChecksum = "cab-checksum",
    /// A block cannot be decoded or read; the member is not produced.
    CabData = "cab-data",
    /// Quantum or an unknown compression type; the members of that folder fail.
    CabUnsupported = "cab-unsupported",
    /// A member lies (partly) beyond its folder's output, or blocks lie beyond the file.
    CabRange = "cab-range",
    /// A CFFILE names a folder the cabinet does not have.
    CabFolderIndex = "cab-folder-index",
    /// A CFFILE has an empty name.
    CabName = "cab-name",
    /// The file is shorter than the header's cbCabinet.
    CabTruncated = "cab-truncated",
    /// The next cabinet of a set is not found or unreadable.
    CabMissingPart = "cab-missing-part",
    /// A nested cabinet could not be opened; the rest of the walk continues.
    CabNested = "cab-nested",
    /// Cabinet set inconsistencies: a member starting in a part not opened, wrong set id or index, loops.
    CabSet = "cab-set",
    /// Members overlap in a folder's output.
    CabOverlap = "cab-overlap",
    /// Bytes of the file or of a folder's output that no structure or member accounts for.
    CabUnreferenced = "cab-unreferenced",
    /// Bytes after the cabinet that are not its Authenticode signature.
    CabExtraBytes = "cab-extra-bytes",
    /// The signature reserve does not point just after the cabinet.
    CabSignature = "cab-signature",
    /// CFFILEs not directly after the CFFOLDERs, or overlapping structures.
    CabLayout = "cab-layout",
    /// A cabinet format version other than 1.3.
    CabVersion = "cab-version",
    /// The cabinet lists no files.
    CabEmpty = "cab-empty",

    // Extraction (`extract`, `extract --expand`).
    /// A name refused (error) or changed to be safe (warning).
    ExtractUnsafeName = "extract-unsafe-name",
    /// A name equal, ignoring case, to one already written (`--flat`); not written.
    ExtractCollision = "extract-collision",
    /// The target exists (use `--force`), or is a symlink or not a file.
    ExtractExists = "extract-exists",
    /// The output could not be written (a directory in the way is a warning).
    ExtractWrite = "extract-write",
    /// A later member is the same file once extracted and replaces the earlier one.
    ExtractDuplicate = "extract-duplicate",
    /// No member matches `--filter`; nothing was written.
    ExtractFilterEmpty = "extract-filter-empty",
    /// `--expand`: the bytes to write do not hash to the manifest digest; not written.
    ExpandDigest = "expand-digest",

    // Loading the model: members and servicing metadata (docs/servicing.md).
    /// A mum, manifest or index is not readable XML of the expected shape.
    MetadataMalformed = "metadata-malformed",
    /// The container could not deliver a member's bytes.
    MemberUnreadable = "member-unreadable",
    /// A metadata or delta member is over the in-memory cap and was not parsed.
    MemberTooLarge = "member-too-large",
    /// A manifest `<file>` hash is not base64/hex or lacks DigestMethod/DigestValue.
    ManifestDigestUnreadable = "manifest-digest-unreadable",
    /// A `DCM\x01` compressed manifest; expanding it needs the base manifest from wcp.dll.
    ManifestCompressed = "manifest-compressed",
    /// A compressed manifest could not be expanded with the given base.
    ManifestCompressedUnreadable = "manifest-compressed-unreadable",
    /// The DCM base manifest was taken from a wcp.dll inside the package.
    DcmBaseFromPackage = "dcm-base-from-package",
    /// A wcp.dll inside the package holds no readable DCM base manifest.
    DcmBaseUnreadable = "dcm-base-unreadable",
    /// Two members are extracted to the same file (names equal ignoring case and aliases).
    MemberDuplicateName = "member-duplicate-name",
    /// A member's bytes are not what its extension says (XML, PE, cabinet).
    MemberContentMismatch = "member-content-mismatch",

    // The integrity check (docs/servicing.md, docs/verdict.md).
    /// No `.mum` and no component manifest: nothing can be verified as an update package.
    NoPackageMetadata = "no-package-metadata",
    /// A manifest's file name is not the keyform of the identity inside.
    ManifestNameMismatch = "manifest-name-mismatch",
    /// A manifest's file name is not a keyform at all.
    ManifestNameNotKeyform = "manifest-name-not-keyform",
    /// A mum's file name is not the one its identity gives.
    MumNameMismatch = "mum-name-mismatch",
    /// No readable `.cat` catalog covers the servicing documents.
    CatalogAbsent = "catalog-absent",
    /// A mum names a catalog that is not in the package.
    CatalogFileMissing = "catalog-file-missing",
    /// A servicing document's hash is listed in none of the package's catalogs.
    CatalogUnlisted = "catalog-unlisted",
    /// A mum installs a component whose manifest is not in the package.
    ComponentMissing = "component-missing",
    /// A mum installs a package whose `.mum` is not in the package.
    PackageMissing = "package-missing",
    /// A deployment deploys a component whose manifest is not in the package.
    DeploymentTargetMissing = "deployment-target-missing",
    /// No mum installs a component and no deployment deploys it.
    ComponentUnreferenced = "component-unreferenced",
    /// A manifest declares a file that is neither stored nor in a container index.
    FileMissing = "file-missing",
    /// Stored or rebuilt bytes do not match the manifest digest.
    DigestMismatch = "digest-mismatch",
    /// The manifest's digest algorithm is not one kbinspect computes.
    DigestUnsupported = "digest-unsupported",
    /// The manifest gives no digest for a stored file.
    DigestAbsent = "digest-absent",
    /// A file's bytes are in a `.psf` payload, which is not read.
    PayloadInPsf = "payload-in-psf",
    /// A file is both stored and produced by the container index, and the two differ.
    SourceDisagreement = "source-disagreement",
    /// A file is stored, and its container index copy was not rebuilt to compare.
    SecondSourceUnchecked = "second-source-unchecked",
    /// The container index's target hash differs from the manifest digest.
    IndexDigestMismatch = "index-digest-mismatch",
    /// A stored RAW member or delta blob does not match its index hash.
    IndexHashMismatch = "index-hash-mismatch",
    /// A stored RAW member's size differs from the index length.
    IndexLengthMismatch = "index-length-mismatch",
    /// The index names a RAW source that is not stored.
    IndexMemberMissing = "index-member-missing",
    /// A `<Basis>` names a file id not in the index.
    IndexBasisMissing = "index-basis-missing",
    /// `<Basis>` links loop.
    IndexBasisCycle = "index-basis-cycle",
    /// A basis-only (copy) entry's hash or length differs from its basis.
    IndexCopyMismatch = "index-copy-mismatch",
    /// Two index entries share an id.
    IndexDuplicateId = "index-duplicate-id",
    /// An index entry has no `<Delta>`.
    IndexEntryNoSource = "index-entry-no-source",
    /// The index names a delta blob that is not stored.
    DeltaBlobMissing = "delta-blob-missing",
    /// A delta source is not a PA30/PA19 blob.
    DeltaSignatureMissing = "delta-signature-missing",
    /// A delta header's target size differs from the index length.
    DeltaSizeMismatch = "delta-size-mismatch",
    /// A delta header could not be read (the blob matched its index hash).
    DeltaHeaderUnreadable = "delta-header-unreadable",
    /// A delta-produced file was not rebuilt; its digest was checked against the index only.
    DeltaNotExpanded = "delta-not-expanded",
    /// Rebuilding gave an error or bytes that do not match the index (maybe the decoder).
    DeltaExpansionFailed = "delta-expansion-failed",
    /// The rebuilt bytes contradict both the container index and the manifest.
    DeltaRebuildMismatch = "delta-rebuild-mismatch",
    /// A payload member that no manifest or container index refers to.
    MemberUnreferenced = "member-unreferenced",

    // Signatures and catalogs (docs/trust.md).
    /// The input or a cabinet holding `update.mum` has no Authenticode signature.
    Unsigned = "unsigned",
    /// A signature is present but not readable PKCS#7/DER.
    TrustUnreadable = "trust-unreadable",
    /// The cabinet's recomputed Authenticode digest differs from the signed one.
    TrustDigestMismatch = "trust-digest-mismatch",
    /// The messageDigest/contentType attribute does not match the signed content.
    TrustMessageDigest = "trust-message-digest",
    /// An RSA signature (signer or a certificate in the chain) does not verify.
    TrustBadSignature = "trust-bad-signature",
    /// The chain ends at a root that is not trusted.
    TrustUntrustedRoot = "trust-untrusted-root",
    /// The signer's certificate is missing, or the chain loops or is too long.
    TrustChainBroken = "trust-chain-broken",
    /// A certificate is not valid at the time used.
    TrustExpired = "trust-expired",
    /// A certificate that issues another is not a CA (basic constraints).
    TrustNotACa = "trust-not-a-ca",
    /// Key usage or extended key usage forbid the certificate's use.
    TrustKeyUsage = "trust-key-usage",
    /// The timestamp does not cover the signature value or does not verify.
    TrustTimestampInvalid = "trust-timestamp-invalid",
    /// A signature is present but signs nothing (a zeroed or stub PKCS#7).
    TrustNoSigner = "trust-no-signer",
    /// Bytes after a signature's DER that are not zero: neither the signature nor the digest covers them.
    TrustDataAfterSignature = "trust-data-after-signature",
    /// An unsigned attribute of a signature that no check reads: the signature does not cover it.
    TrustUnusedUnsignedAttribute = "trust-unused-unsigned-attribute",
    /// A servicing document is in no verified catalog.
    CatalogMissing = "catalog-missing",
    /// A verified catalog lists a file of this name, but not its hash.
    CatalogMismatch = "catalog-mismatch",
    /// The `_<sha1>` in a catalog-download file name is not the file's SHA-1.
    DownloadNameMismatch = "download-name-mismatch",
    /// Not checked: an algorithm (digest, key, file hash, timestamp imprint) is not supported.
    TrustUncheckedAlgorithm = "trust-unchecked-algorithm",
    /// Not checked: no catalog carries a signer.
    TrustUncheckedCatalogs = "trust-unchecked-catalogs",
    /// Not checked: the package is signed but holds no catalog.
    TrustUncheckedNoCatalog = "trust-unchecked-no-catalog",
    /// Not checked: no verified catalog lists this file's hash nor its name.
    TrustUncheckedFileNotInCatalog = "trust-unchecked-file-not-in-catalog",
    /// Not checked: a catalog was not kept in memory (over the metadata cap).
    TrustUncheckedCatalogNotRead = "trust-unchecked-catalog-not-read",
    /// Not checked: the input could not be read again for its signature.
    TrustUncheckedUnreadableInput = "trust-unchecked-unreadable-input",

    // A package against its KB article (docs/commands.md).
    /// A documented file is not in the package.
    KbMissing = "kb-missing",
    /// The file's version differs from the documented one.
    KbVersionMismatch = "kb-version-mismatch",
    /// The file's size differs from the documented one.
    KbSizeMismatch = "kb-size-mismatch",
    /// The file is there for another architecture only, or its PE image is built for another machine.
    KbWrongArch = "kb-wrong-arch",
    /// The CAB timestamp differs from the documented date/time.
    KbTimeMismatch = "kb-time-mismatch",
    /// The package installs a file the article does not list.
    KbUndocumented = "kb-undocumented",
    /// The article has no table for the package's architecture.
    KbNoTable = "kb-no-table",
    /// The package's architecture cannot be told, so no table can be chosen.
    KbNoArch = "kb-no-arch",
    /// The package's KB number is not the article's.
    KbArticleMismatch = "kb-article-mismatch",

    // Applying one delta (`expand`, docs/msdelta.md).
    /// The bytes are not a valid delta.
    DeltaCorrupt = "delta-corrupt",
    /// A valid delta using a feature the decoder does not implement.
    DeltaUnsupported = "delta-unsupported",
    /// A size or count above the delta limits.
    DeltaLimit = "delta-limit",
    /// The rebuilt bytes do not match the hash in the header (or the one given).
    DeltaHashMismatch = "delta-hash-mismatch",
    /// A source file is needed, or the given one is the wrong one.
    DeltaSource = "delta-source",
    /// The delta rebuilds what its own header promises, which is not the expected target.
    DeltaWrongTarget = "delta-wrong-target",
    /// The delta carries no target hash and none was given: only its consistency was checked.
    DeltaUnverified = "delta-unverified",
}

impl Code {
    /// A finding of extraction (`extract-*`), as opposed to one of reading.
    pub fn is_extract(self) -> bool {
        matches!(
            self,
            Code::ExtractUnsafeName
                | Code::ExtractCollision
                | Code::ExtractExists
                | Code::ExtractWrite
                | Code::ExtractDuplicate
                | Code::ExtractFilterEmpty
        )
    }

    /// A trust check that could not be made (`trust-unchecked-*`): neither
    /// pass nor fail.
    pub fn is_trust_unchecked(self) -> bool {
        matches!(
            self,
            Code::TrustUncheckedAlgorithm
                | Code::TrustUncheckedCatalogs
                | Code::TrustUncheckedNoCatalog
                | Code::TrustUncheckedFileNotInCatalog
                | Code::TrustUncheckedCatalogNotRead
                | Code::TrustUncheckedUnreadableInput
        )
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl serde::Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Test code compares with the documented string: `f.code == "cab-data"`.
impl PartialEq<&str> for Code {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// A string that is no finding code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown finding code {0:?}")]
pub struct UnknownCode(pub String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips_through_its_string() {
        let mut seen = std::collections::HashSet::new();
        for &c in Code::ALL {
            assert!(seen.insert(c.as_str()), "{c} twice");
            assert_eq!(c.as_str().parse::<Code>(), Ok(c));
            assert_eq!(c.to_string(), c.as_str());
            assert_eq!(
                serde_json::to_string(&c).unwrap(),
                format!("\"{}\"", c.as_str())
            );
            let kebab = c.as_str().split('-').all(|w| {
                !w.is_empty()
                    && w.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            });
            assert!(kebab, "{c} is not kebab-case");
        }
        assert!("cab-nope".parse::<Code>().is_err());
        assert_eq!(format!("[{:<14}]", Code::CabData), "[cab-data      ]");
    }

    #[test]
    fn the_groups_are_what_their_strings_say() {
        for &c in Code::ALL {
            assert_eq!(c.is_extract(), c.as_str().starts_with("extract-"), "{c}");
            assert_eq!(
                c.is_trust_unchecked(),
                c.as_str().starts_with("trust-unchecked-"),
                "{c}"
            );
        }
    }

    /// Every code is documented in a table row of `docs/*.md` (a row that
    /// names it in backticks), so a new code cannot ship undocumented.
    #[test]
    fn every_code_is_in_a_docs_table() {
        let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs");
        let mut rows = String::new();
        for e in std::fs::read_dir(&docs).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "md") {
                let text = std::fs::read_to_string(&p).unwrap();
                for l in text.lines().filter(|l| l.starts_with('|')) {
                    rows.push_str(l);
                    rows.push('\n');
                }
            }
        }
        let missing: Vec<&str> = Code::ALL
            .iter()
            .map(|c| c.as_str())
            .filter(|c| !rows.contains(&format!("`{c}`")))
            .collect();
        assert!(missing.is_empty(), "not in a docs/*.md table: {missing:?}");
    }
}

//! The pre-process buffer of PE-typed deltas: the target's ImageBase and
//! TimeDateStamp, rift #1 (target section map) and rift #2 (source RVA →
//! target RVA). The transforms that use them are in `pe_transform`.

use super::bits::BitReader;
use super::{DeltaError, DeltaLimits, rift};

/// Facts read from a PE delta's pre-process buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeInfo {
    pub image_base: u64,
    pub checksum: u32,
    pub time_date_stamp: u32,
    /// Target section RVA → target file offset.
    pub section_rift: Vec<(i64, i64)>,
    /// Source RVA → target RVA correspondences.
    pub copy_rift: Vec<(i64, i64)>,
}

pub fn read_preprocess(buf: &[u8], at: u64, limits: &DeltaLimits) -> Result<PeInfo, DeltaError> {
    let mut r = BitReader::new(buf, at)?;
    let image_base = r.bits64()?;
    let checksum = r.bits(32)? as u32;
    let time_date_stamp = r.bits(32)? as u32;
    let section_rift = rift::read_table(&mut r, limits)?;
    if r.bit()? {
        return Err(DeltaError::unsupported(
            r.offset(),
            "PE delta carries CLI (.NET) metadata: PE transforms not supported",
        ));
    }
    let copy_rift = rift::read_table(&mut r, limits)?;
    if r.bit()? {
        return Err(DeltaError::unsupported(
            r.offset(),
            "PE delta carries a CLI map: PE transforms not supported",
        ));
    }
    Ok(PeInfo {
        image_base,
        checksum,
        time_date_stamp,
        section_rift,
        copy_rift,
    })
}

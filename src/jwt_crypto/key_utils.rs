//! Public-key components and thumbprint digests, for `Jwk::from_*` and `thumbprint`.

use jsonwebtoken::Algorithm;
use jsonwebtoken::errors::{ErrorKind, Result, new_error};
use jsonwebtoken::jwk::{EllipticCurve, ThumbprintHash};
use ring::signature as rs;
use sha2::{Digest, Sha256, Sha384, Sha512};

use super::sign::{ecdsa_key_pair, ed25519_key_pair, rsa_key_pair};

pub(super) fn rsa_components_from_private_key(der: &[u8]) -> Result<(Vec<u8>, Vec<u8>)> {
    let pair = rsa_key_pair(der)?;
    let public = ring::rsa::PublicKeyComponents::<Vec<u8>>::from(pair.public());
    Ok((public.n, public.e))
}

/// PKCS#1 `RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }` (DER).
pub(super) fn rsa_components_from_public_key(der: &[u8]) -> Result<(Vec<u8>, Vec<u8>)> {
    let bad = || {
        new_error(ErrorKind::InvalidRsaKey(
            "not a PKCS#1 RSA public key".into(),
        ))
    };
    let mut outer = der;
    let mut seq = der_take(&mut outer, 0x30).ok_or_else(bad)?;
    let n = der_take(&mut seq, 0x02).ok_or_else(bad)?;
    let e = der_take(&mut seq, 0x02).ok_or_else(bad)?;
    if !outer.is_empty() || !seq.is_empty() {
        return Err(bad());
    }
    let unsigned = |int: &[u8]| int.strip_prefix(&[0]).unwrap_or(int).to_vec();
    Ok((unsigned(n), unsigned(e)))
}

/// Splits one DER TLV with `tag` off the front of `input`; returns its value.
fn der_take<'a>(input: &mut &'a [u8], tag: u8) -> Option<&'a [u8]> {
    let (&[t, first], rest) = input.split_first_chunk::<2>()?;
    if t != tag {
        return None;
    }
    let (len, rest) = match first {
        0..=0x7f => (usize::from(first), rest),
        0x81..=0x83 => {
            let (bytes, rest) = rest.split_at_checked(usize::from(first & 0x7f))?;
            (
                bytes.iter().fold(0, |acc, &b| (acc << 8) | usize::from(b)),
                rest,
            )
        }
        _ => return None,
    };
    let (value, rest) = rest.split_at_checked(len)?;
    *input = rest;
    Some(value)
}

pub(super) fn ec_components_from_private_key(
    pkcs8: &[u8],
    alg: Algorithm,
) -> Result<(EllipticCurve, Vec<u8>, Vec<u8>)> {
    let curve = match alg {
        Algorithm::ES256 => EllipticCurve::P256,
        Algorithm::ES384 => EllipticCurve::P384,
        _ => return Err(new_error(ErrorKind::InvalidEcdsaKey)),
    };
    let pair = ecdsa_key_pair(alg, pkcs8)?;
    // Uncompressed SEC1 point: 0x04 || x || y.
    let point = rs::KeyPair::public_key(&pair).as_ref();
    let (x, y) = point
        .split_first()
        .map(|(_, xy)| xy.split_at(xy.len() / 2))
        .ok_or_else(|| new_error(ErrorKind::InvalidEcdsaKey))?;
    Ok((curve, x.to_vec(), y.to_vec()))
}

pub(super) fn ed_component_from_private_key(
    pkcs8: &[u8],
    curve: &EllipticCurve,
) -> Result<Vec<u8>> {
    match curve {
        EllipticCurve::Ed25519 => Ok(rs::KeyPair::public_key(&ed25519_key_pair(pkcs8)?)
            .as_ref()
            .to_vec()),
        _ => Err(new_error(ErrorKind::InvalidAlgorithm)),
    }
}

pub(super) fn compute_digest(data: &[u8], hash: ThumbprintHash) -> Result<Vec<u8>> {
    Ok(match hash {
        ThumbprintHash::SHA256 => Sha256::digest(data).to_vec(),
        ThumbprintHash::SHA384 => Sha384::digest(data).to_vec(),
        ThumbprintHash::SHA512 => Sha512::digest(data).to_vec(),
        _ => return Err(new_error(ErrorKind::UnsupportedAlgorithm)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_rsa_public_key() {
        // SEQUENCE { INTEGER 0x00c3, INTEGER 0x010001 }
        let der = [
            0x30, 0x09, 0x02, 0x02, 0x00, 0xc3, 0x02, 0x03, 0x01, 0x00, 0x01,
        ];
        let (n, e) = rsa_components_from_public_key(&der).unwrap();
        assert_eq!((n.as_slice(), e.as_slice()), (&[0xc3][..], &[1, 0, 1][..]));
        assert!(rsa_components_from_public_key(&der[..10]).is_err());
        assert!(rsa_components_from_public_key(&[0x30, 0x84, 0, 0, 0, 0]).is_err());
    }
}

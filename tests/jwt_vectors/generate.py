"""Independent test vectors (pyca/cryptography, i.e. OpenSSL) for the ring-based provider."""
import base64, json
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
uint = lambda i, n=None: i.to_bytes(n or (i.bit_length() + 7) // 8, "big")
claims = {"iss": "https://idp.example", "aud": "api://test", "sub": "alice", "exp": 4102444800}

def token(alg, kid, sign):
    msg = b64(json.dumps({"alg": alg, "kid": kid, "typ": "JWT"}).encode()) + "." + b64(json.dumps(claims).encode())
    return msg + "." + b64(sign(msg.encode()))

out = {"vectors": []}
rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
pn = rsa_key.public_key().public_numbers()
rsa_jwk = {"kty": "RSA", "n": b64(uint(pn.n)), "e": b64(uint(pn.e)), "kid": "rsa-1", "use": "sig"}
H = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}
for bits, h in H.items():
    out["vectors"].append({"alg": "RS" + bits, "jwk": rsa_jwk, "token": token("RS" + bits, "rsa-1",
        lambda m: rsa_key.sign(m, padding.PKCS1v15(), h()))})
    out["vectors"].append({"alg": "PS" + bits, "jwk": rsa_jwk, "token": token("PS" + bits, "rsa-1",
        lambda m: rsa_key.sign(m, padding.PSS(padding.MGF1(h()), padding.PSS.DIGEST_LENGTH), h()))})
for alg, curve, crv, h, n in [("ES256", ec.SECP256R1(), "P-256", hashes.SHA256, 32),
                              ("ES384", ec.SECP384R1(), "P-384", hashes.SHA384, 48)]:
    k = ec.generate_private_key(curve)
    p = k.public_key().public_numbers()
    def sign(m):
        r, s = decode_dss_signature(k.sign(m, ec.ECDSA(h())))
        return uint(r, n) + uint(s, n)
    jwk = {"kty": "EC", "crv": crv, "x": b64(uint(p.x, n)), "y": b64(uint(p.y, n)), "kid": alg}
    out["vectors"].append({"alg": alg, "jwk": jwk, "token": token(alg, alg, sign)})
ed = ed25519.Ed25519PrivateKey.generate()
raw = ed.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
out["vectors"].append({"alg": "EdDSA", "jwk": {"kty": "OKP", "crv": "Ed25519", "x": b64(raw), "kid": "ed"},
                       "token": token("EdDSA", "ed", ed.sign)})
out["claims"] = claims
out["rsa_private_pkcs1_der"] = b64(rsa_key.private_bytes(serialization.Encoding.DER,
    serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()))
out["rsa_public_pkcs1_der"] = b64(rsa_key.public_key().public_bytes(serialization.Encoding.DER,
    serialization.PublicFormat.PKCS1))
out["ed25519_private_pkcs8_v1_der"] = b64(ed.private_bytes(serialization.Encoding.DER,
    serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
json.dump(out, open("vectors.json", "w"), indent=1)

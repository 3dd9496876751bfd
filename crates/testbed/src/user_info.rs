//! WeChat's `wx.getUserInfo` login material, as the platform makes it and a backend checks it
//! (the `checkUserInfo` / `getUserInfo` of the WeChat SDKs):
//!
//! * `signature` = hex(sha1(`rawData` + `session_key`)), lower case;
//! * `encryptedData` = base64(AES-128-CBC, PKCS#7) of the user's JSON, under the base64-decoded
//!   `session_key` and the base64-decoded `iv`; the JSON names the user (`openId`) and carries
//!   a `watermark.appid` that must be the backend's own appid.
//!
//! The `session_key` is what `jscode2session` answers for a login code. The testbed plays the
//! platform as a stress-test environment does (WeChat's own servers cannot be called by a load
//! test): every well-formed code is accepted, and every code of this app gets the same
//! session key, so material made once for a test user stays valid for every later login, and
//! the user is the one the encrypted data names. A code alone (litemall's `userInfo` login,
//! no material) names a user of its own: [`Platform::openid_for_code`].

use aes::cipher::{block_padding::Pkcs7, BlockDecryptMut, KeyIvInit};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use ring::digest::{digest, SHA1_FOR_LEGACY_USE_ONLY};
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use serde::Deserialize;

type Decryptor = cbc::Decryptor<aes::Aes128>;

/// The login material a `wx.getUserInfo` login sends, as sent.
pub(crate) struct Material<'a> {
    pub raw_data: &'a str,
    pub signature: &'a str,
    pub encrypted_data: &'a str,
    pub iv: &'a str,
}

/// Why material was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// `signature` is not sha1(rawData + session_key).
    Signature,
    /// `encryptedData` or `iv` is not base64, not a whole number of blocks, badly padded under
    /// this session key, or not the user JSON.
    Undecryptable,
    /// The decrypted data is another app's.
    Watermark,
}

/// The user the decrypted data names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct User {
    pub openid: String,
    pub nick_name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Decrypted {
    open_id: String,
    #[serde(default)]
    nick_name: String,
    watermark: Watermark,
}

#[derive(Deserialize)]
struct Watermark {
    appid: String,
}

/// The mock platform of one testbed: its app's session key and the key that turns codes into
/// openids, both random per process.
pub(crate) struct Platform {
    appid: String,
    session_key: [u8; 16],
    openids: hmac::Key,
}

impl Platform {
    pub(crate) fn new(appid: &str) -> anyhow::Result<Platform> {
        let rng = SystemRandom::new();
        let mut session_key = [0u8; 16];
        rng.fill(&mut session_key)
            .map_err(|_| anyhow::anyhow!("no system randomness for the session key"))?;
        let openids = hmac::Key::generate(hmac::HMAC_SHA256, &rng)
            .map_err(|_| anyhow::anyhow!("no system randomness for the openid key"))?;
        Ok(Platform {
            appid: appid.to_string(),
            session_key,
            openids,
        })
    }

    /// The `session_key` as `jscode2session` answers it: base64 of 16 bytes.
    pub(crate) fn session_key(&self) -> String {
        STANDARD.encode(self.session_key)
    }

    /// The openid `jscode2session` answers for `code`: `o` and 27 URL-safe characters, as
    /// WeChat's look, the same for the same code.
    pub(crate) fn openid_for_code(&self, code: &str) -> String {
        let tag = hmac::sign(&self.openids, code.as_bytes());
        let mut id = String::with_capacity(28);
        id.push('o');
        id.push_str(&URL_SAFE_NO_PAD.encode(tag.as_ref())[..27]);
        id
    }

    /// Checks `m` as a backend does: the signature first, then the decryption and the
    /// watermark. Returns the user it names.
    pub(crate) fn check(&self, m: &Material) -> Result<User, Refusal> {
        let mut signed = Vec::with_capacity(m.raw_data.len() + 24);
        signed.extend_from_slice(m.raw_data.as_bytes());
        signed.extend_from_slice(self.session_key().as_bytes());
        let want = hex(digest(&SHA1_FOR_LEGACY_USE_ONLY, &signed).as_ref());
        if !m.signature.eq_ignore_ascii_case(&want) {
            return Err(Refusal::Signature);
        }
        let plain = self.decrypt(m.encrypted_data, m.iv)?;
        let d: Decrypted = serde_json::from_slice(&plain).map_err(|_| Refusal::Undecryptable)?;
        if d.watermark.appid != self.appid {
            return Err(Refusal::Watermark);
        }
        Ok(User {
            openid: d.open_id,
            nick_name: d.nick_name,
        })
    }

    fn decrypt(&self, data: &str, iv: &str) -> Result<Vec<u8>, Refusal> {
        let data = STANDARD.decode(data).map_err(|_| Refusal::Undecryptable)?;
        let iv: [u8; 16] = STANDARD
            .decode(iv)
            .ok()
            .and_then(|v| v.try_into().ok())
            .ok_or(Refusal::Undecryptable)?;
        Decryptor::new(&self.session_key.into(), &iv.into())
            .decrypt_padded_vec_mut::<Pkcs7>(&data)
            .map_err(|_| Refusal::Undecryptable)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aes::cipher::BlockEncryptMut;

    /// The material the platform would give `openid`, made as the WeChat client gets it.
    fn material(p: &Platform, openid: &str, appid: &str) -> (String, String, String, String) {
        let raw = r#"{"nickName":"tester","gender":1}"#.to_string();
        let signed = format!("{raw}{}", p.session_key());
        let signature = hex(digest(&SHA1_FOR_LEGACY_USE_ONLY, signed.as_bytes()).as_ref());
        let plain = format!(
            r#"{{"openId":"{openid}","nickName":"tester","watermark":{{"appid":"{appid}","timestamp":1700000000}}}}"#
        );
        let iv = [7u8; 16];
        let sealed = cbc::Encryptor::<aes::Aes128>::new(&p.session_key.into(), &iv.into())
            .encrypt_padded_vec_mut::<Pkcs7>(plain.as_bytes());
        (raw, signature, STANDARD.encode(sealed), STANDARD.encode(iv))
    }

    #[test]
    fn material_made_under_the_session_key_names_its_user_and_nothing_else_passes() {
        let p = Platform::new("wxtestbed").unwrap();
        let (raw, sig, data, iv) = material(&p, "oUser1", "wxtestbed");
        let m = |raw: &str, sig: &str, data: &str, iv: &str| {
            p.check(&Material {
                raw_data: raw,
                signature: sig,
                encrypted_data: data,
                iv,
            })
        };
        assert_eq!(m(&raw, &sig, &data, &iv).unwrap().openid, "oUser1");
        assert_eq!(
            m(&raw, &sig.to_uppercase(), &data, &iv).unwrap().nick_name,
            "tester"
        );
        let edited = raw.replace("tester", "other");
        assert_eq!(m(&edited, &sig, &data, &iv), Err(Refusal::Signature));
        let wrong_iv = STANDARD.encode([8u8; 16]);
        assert_eq!(m(&raw, &sig, &data, &wrong_iv), Err(Refusal::Undecryptable));
        assert_eq!(
            m(&raw, &sig, "not base64!", &iv),
            Err(Refusal::Undecryptable)
        );
        assert_eq!(
            m(&raw, &sig, &data, "c2hvcnQ="),
            Err(Refusal::Undecryptable)
        );

        let (raw, sig, data, iv) = material(&p, "oUser1", "wxother");
        assert_eq!(m(&raw, &sig, &data, &iv), Err(Refusal::Watermark));

        let other = Platform::new("wxtestbed").unwrap();
        let (raw, sig, data, iv) = material(&other, "oUser1", "wxtestbed");
        assert_eq!(m(&raw, &sig, &data, &iv), Err(Refusal::Signature));
    }

    #[test]
    fn a_code_names_one_user() {
        let p = Platform::new("wxtestbed").unwrap();
        let a = p.openid_for_code("081Kq2Ga1Rk8gB0Ztk1a1nQ3Ga1Kq2Gq");
        assert_eq!(a.len(), 28);
        assert!(a.starts_with('o'));
        assert_eq!(a, p.openid_for_code("081Kq2Ga1Rk8gB0Ztk1a1nQ3Ga1Kq2Gq"));
        assert_ne!(a, p.openid_for_code("another"));
    }
}

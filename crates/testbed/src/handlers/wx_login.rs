//! The two halves of a WeChat mini-program login, as the shop and the platform answer them.
//!
//! * `GET /sns/jscode2session?appid&secret&js_code&grant_type=authorization_code`: WeChat's
//!   code exchange, `{"openid","session_key"}` (errcode 40013 for a wrong appid or secret,
//!   40029 for an empty code). A real mini program never calls it: its backend does. A test
//!   client that plays the WeChat client calls it to learn the session key the platform would
//!   have signed and encrypted its user-info material under (see `user_info.rs`).
//! * `POST /wx/auth/login_by_weixin`: litemall's login. With `wx.getUserInfo` material
//!   (`rawData`, `signature`, `encryptedData`, `iv`) the user is the one the material names,
//!   once it checks (errno -1, litemall's `fail()`, when it does not); with a bare
//!   `{"code","userInfo"}`, the user the code names. Either way a new session of that user:
//!   a token whose serial the shop maps to the user.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::reply::{json, to_json, Resp};
use super::shop::ok;
use super::App;
use crate::query;
use crate::stats::{Errno, ShopEvent};
use crate::tokens::{constant_time_eq, Kind};
use crate::user_info::Material;

const BAD_APPID: &[u8] = br#"{"errcode":40013,"errmsg":"invalid appid"}"#;
const BAD_CODE: &[u8] = br#"{"errcode":40029,"errmsg":"invalid code"}"#;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct LoginBody {
    code: String,
    #[serde(default)]
    user_info: Value,
    raw_data: Option<String>,
    signature: Option<String>,
    encrypted_data: Option<String>,
    iv: Option<String>,
}

#[derive(Serialize)]
struct Session {
    openid: String,
    session_key: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Login {
    token: String,
    user_info: Value,
}

impl App {
    /// `GET /sns/jscode2session`: the session key of this app and the openid of the code.
    pub(super) fn jscode2session(&self, query: Option<&str>) -> Resp {
        let param = |name| query::param(query, name).unwrap_or_default();
        let known = constant_time_eq(param("secret").as_bytes(), self.secret.as_bytes())
            && param("appid") == self.appid
            && param("grant_type") == "authorization_code";
        if !known {
            return json(http::StatusCode::OK, BAD_APPID);
        }
        let code = param("js_code");
        if code.is_empty() {
            return json(http::StatusCode::OK, BAD_CODE);
        }
        self.counters.shop(ShopEvent::Session);
        to_json(&Session {
            openid: self.platform.openid_for_code(&code),
            session_key: self.platform.session_key(),
        })
    }

    /// `POST /wx/auth/login_by_weixin`: a new session of the user the body names.
    pub(super) fn wx_login(&self, body: Option<Value>) -> Resp {
        let Some(login) = body.and_then(|b| serde_json::from_value::<LoginBody>(b).ok()) else {
            return self.errno(Errno::BadArgument);
        };
        if login.code.is_empty() {
            return self.errno(Errno::BadArgument);
        }
        let openid = match self.login_user(&login) {
            Ok(openid) => openid,
            Err(e) => return self.errno(e),
        };
        let (token, serial) = self.tokens.issue_with_serial(Kind::Litemall);
        if self.shop.sign_in(serial, &openid).new_user {
            self.counters.shop(ShopEvent::NewUser);
        }
        self.counters.shop(ShopEvent::Login);
        ok(Login {
            token,
            user_info: login.user_info,
        })
    }

    /// The openid a login names: its checked material's, or its code's.
    fn login_user(&self, login: &LoginBody) -> Result<String, Errno> {
        let (raw_data, signature, encrypted_data, iv) = match (
            &login.raw_data,
            &login.signature,
            &login.encrypted_data,
            &login.iv,
        ) {
            (None, None, None, None) => return Ok(self.platform.openid_for_code(&login.code)),
            (Some(r), Some(s), Some(e), Some(i)) => (r, s, e, i),
            _ => return Err(Errno::BadArgument),
        };
        let material = Material {
            raw_data,
            signature,
            encrypted_data,
            iv,
        };
        match self.platform.check(&material) {
            Ok(user) => Ok(user.openid),
            Err(_) => {
                self.counters.shop(ShopEvent::BadLogin);
                Err(Errno::Fail)
            }
        }
    }
}

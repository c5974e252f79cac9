//! A registry's column names to the fields they hold. Operators name columns in English or
//! Chinese, with spaces, dashes or underscores, in any case: the built-in synonyms cover the
//! common names, and the user maps the rest (`--registry-columns FIELD=HEADER,...`).

/// A registry field and the column names that hold it.
pub struct Field {
    /// The field's name (as given to `--registry-columns`).
    pub name: &'static str,
    /// Whether it is an identity in the access records (RADIUS user, MAC, DUID, circuit).
    pub identity: bool,
    /// Column names that mean it, normalised (see [`normalise`]).
    pub synonyms: &'static [&'static str],
}

/// Every registry field.
pub const FIELDS: &[Field] = &[
    Field {
        name: "id",
        identity: false,
        synonyms: &[
            "id",
            "subscriber_id",
            "subscriber",
            "subscriber_no",
            "customer_id",
            "customer_no",
            "customer_number",
            "client_id",
            "account_id",
            "user_id",
            "用户编号",
            "客户编号",
            "用户id",
            "客户id",
            "用户号",
            "客户号",
            "编号",
            "用户标识",
        ],
    },
    Field {
        name: "name",
        identity: false,
        synonyms: &[
            "name",
            "enterprise",
            "enterprise_name",
            "company",
            "company_name",
            "customer",
            "customer_name",
            "person",
            "subscriber_name",
            "organisation",
            "organization",
            "用户名称",
            "客户名称",
            "企业名称",
            "单位名称",
            "公司名称",
            "名称",
            "姓名",
            "用户名",
        ],
    },
    Field {
        name: "registration_number",
        identity: false,
        synonyms: &[
            "registration_number",
            "reg_no",
            "registration_no",
            "uscc",
            "unified_social_credit_code",
            "credit_code",
            "business_license",
            "license_no",
            "统一社会信用代码",
            "社会信用代码",
            "信用代码",
            "营业执照号",
            "营业执照号码",
            "注册号",
            "证件号码",
            "证件号",
        ],
    },
    Field {
        name: "address",
        identity: false,
        synonyms: &[
            "address",
            "service_address",
            "site_address",
            "installation_address",
            "install_address",
            "physical_address",
            "street_address",
            "地址",
            "装机地址",
            "安装地址",
            "详细地址",
            "用户地址",
            "注册地址",
            "经营地址",
            "机房地址",
        ],
    },
    Field {
        name: "contact",
        identity: false,
        synonyms: &[
            "contact",
            "phone",
            "email",
            "telephone",
            "mobile",
            "contact_phone",
            "tel",
            "联系人",
            "联系电话",
            "电话",
            "手机",
            "手机号",
            "联系方式",
        ],
    },
    Field {
        name: "account_type",
        identity: false,
        synonyms: &[
            "account_type",
            "type",
            "customer_type",
            "user_type",
            "subscriber_type",
            "用户类型",
            "客户类型",
            "账户类型",
            "账号类型",
            "业务类型",
        ],
    },
    Field {
        name: "region",
        identity: false,
        synonyms: &[
            "region",
            "area",
            "district",
            "region_code",
            "区域",
            "地区",
            "所属区域",
            "行政区划",
            "区县",
            "所属地区",
            "行政区划代码",
            "区划代码",
        ],
    },
    Field {
        name: "circuit",
        identity: true,
        synonyms: &[
            "circuit",
            "circuit_id",
            "line_id",
            "line",
            "access_line",
            "line_no",
            "线路编号",
            "电路编号",
            "专线编号",
            "线路号",
            "电路代号",
        ],
    },
    Field {
        name: "username",
        identity: true,
        synonyms: &[
            "username",
            "user_name",
            "radius_user",
            "radius_username",
            "login",
            "login_name",
            "account",
            "pppoe_account",
            "pppoe_user",
            "pppoe_username",
            "broadband_account",
            "宽带账号",
            "上网账号",
            "账号",
            "拨号账号",
            "pppoe账号",
            "宽带帐号",
            "上网帐号",
            "帐号",
        ],
    },
    Field {
        name: "mac",
        identity: true,
        synonyms: &[
            "mac",
            "mac_address",
            "hwaddr",
            "hardware_address",
            "mac地址",
            "物理地址",
        ],
    },
    Field {
        name: "duid",
        identity: true,
        synonyms: &["duid", "client_duid", "dhcpv6_duid"],
    },
];

/// A column name as compared: trimmed, lower case, spaces, dashes and dots made `_`, a
/// byte-order mark and full-width parentheses' contents dropped ("用户名称（企业）").
pub fn normalise(h: &str) -> String {
    let h = h.trim().trim_start_matches('\u{feff}');
    let h = match h.find(['（', '(']) {
        Some(i) if i > 0 => &h[..i],
        _ => h,
    };
    h.trim().to_lowercase().replace([' ', '-', '.', '/'], "_")
}

/// The field a column holds: the user's mapping first, then the synonyms.
pub fn field_of(header: &str, user: &[(String, String)]) -> Option<&'static str> {
    let n = normalise(header);
    if let Some((f, _)) = user.iter().find(|(_, h)| normalise(h) == n) {
        return FIELDS.iter().find(|x| x.name == f).map(|x| x.name);
    }
    FIELDS
        .iter()
        .find(|f| f.synonyms.contains(&n.as_str()))
        .map(|f| f.name)
}

/// Parses `FIELD=HEADER,...` (as given to `--registry-columns`).
pub fn parse_mapping(s: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for pair in s.split(',').filter(|p| !p.trim().is_empty()) {
        let (f, h) = pair
            .split_once('=')
            .ok_or(format!("'{pair}' is not FIELD=HEADER"))?;
        let f = f.trim().to_ascii_lowercase();
        if !FIELDS.iter().any(|x| x.name == f) {
            let names: Vec<&str> = FIELDS.iter().map(|x| x.name).collect();
            return Err(format!(
                "'{f}' is not a registry field (one of {})",
                names.join(", ")
            ));
        }
        out.push((f, h.trim().to_string()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn english_chinese_and_the_users_names() {
        assert_eq!(field_of("Customer ID", &[]), Some("id"));
        assert_eq!(field_of("\u{feff}企业名称", &[]), Some("name"));
        assert_eq!(
            field_of("统一社会信用代码", &[]),
            Some("registration_number")
        );
        assert_eq!(field_of("宽带账号", &[]), Some("username"));
        assert_eq!(field_of("PPPoE-Account", &[]), Some("username"));
        assert_eq!(field_of("MAC地址", &[]), Some("mac"));
        assert_eq!(field_of("装机地址（详细）", &[]), Some("address"));
        assert_eq!(field_of("acct_login_x", &[]), None);
        let user = parse_mapping("username=Acct Login X, id=Kundennummer").unwrap();
        assert_eq!(field_of("acct login x", &user), Some("username"));
        assert_eq!(field_of("KUNDENNUMMER", &user), Some("id"));
        assert!(parse_mapping("colour=x")
            .unwrap_err()
            .contains("not a registry field"));
        assert!(parse_mapping("id").is_err());
    }
}

//! The frame every page shares: the firmware's HTML 4.01 document with
//! the product name, the computer's name, the navigation bar and the
//! firmware version at the bottom. Everything taken from the device is
//! escaped here ([`escape`]).

use amt_device::Device;

/// Text made safe for HTML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const HEAD: &str = "<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.01 Transitional//EN\" >\n<html lang=\"en\"><head><link rel=stylesheet href=\"/styles.css\">\n<meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\">\n<title>Intel&reg; Active Management Technology</title></head>\n<body>\n";

/// The navigation bar: (target, label, indented under "Hardware Information").
const NAV: [(&str, &str, bool); 12] = [
    ("/index.htm", "System Status", false),
    ("/hw-sys.htm", "System", true),
    ("/hw-proc.htm", "Processor", true),
    ("/hw-mem.htm", "Memory", true),
    ("/hw-disk.htm", "Disk", true),
    ("/hw-batt.htm", "Battery", true),
    ("/events.htm", "Event Log", false),
    ("/remote.htm", "Remote Control", false),
    ("/ip.htm", "Network Settings", false),
    ("/wlan.htm", "Wireless Settings", false),
    ("/fqdn.htm", "System Name Settings", false),
    ("/acl.htm", "User Accounts", false),
];

fn header(computer: &str) -> String {
    // A device not yet given a name shows none.
    let name = if computer.is_empty() {
        String::new()
    } else {
        format!(
            "<p class=top2><b>Computer:</b> <span id=computer>{}</span></p>\n",
            escape(computer)
        )
    };
    format!(
        "<table class=header><tr><td valign=top nowrap>\n<p class=top1>Intel<sup>&reg;</sup> Active Management Technology</p>\n{name}</td></tr></table>\n"
    )
}

fn navbar() -> String {
    let mut nav = String::from("<td class=navbar>\n");
    let mut in_hardware = false;
    for (href, label, indented) in NAV {
        if indented && !in_hardware {
            nav.push_str("<p class=nav1>Hardware Information</p>\n<p class=nav2>\n");
            in_hardware = true;
        } else if indented {
            nav.push_str("<br>");
        }
        if !indented && in_hardware {
            nav.push_str("</p>\n");
            in_hardware = false;
        }
        if indented {
            nav.push_str(&format!("<a href=\"{href}\">{label}</a>\n"));
        } else {
            nav.push_str(&format!(
                "<p class=nav1><a href=\"{href}\">{label}</a></p>\n"
            ));
        }
    }
    nav.push_str("</td>\n");
    nav
}

/// The computer's name as the header shows it: the FQDN the firmware was
/// given, or the host name alone.
fn computer_name(device: &Device) -> String {
    match (device.host_name(), device.domain_name()) {
        ("", _) => String::new(),
        (host, "") => host.to_string(),
        (host, domain) => format!("{host}.{domain}"),
    }
}

/// A whole page: `title` as the heading, `body` (already HTML) below it.
pub fn page(device: &Device, title: &str, body: &str) -> String {
    format!(
        "{HEAD}{}<table class=spread cellspacing=0><tr>\n{}<td class=maincell>\n<h1>{}</h1>\n{body}\n<p class=footer>Intel&reg; Active Management Technology firmware version: <span id=firmware-version>{}</span></p>\n</td></tr></table>\n</body></html>\n",
        header(&computer_name(device)),
        navbar(),
        escape(title),
        escape(&device.profile().version().to_string()),
    )
}

/// A table of label/value rows; values are escaped, `id`s name the
/// value cells for tests and scripts.
pub fn rows(rows: &[(&str, &str, String)]) -> String {
    let mut t = String::from("<table class=log cellspacing=0 cellpadding=0>\n");
    for (id, label, value) in rows {
        let id = if id.is_empty() {
            String::new()
        } else {
            format!(" id=\"{id}\"")
        };
        t.push_str(&format!(
            "<tr><td class=r1 width=200><p>{}</p></td><td class=r1{id}>{}</td></tr>\n",
            escape(label),
            escape(value)
        ));
    }
    t.push_str("</table>\n");
    t
}

/// A heading between tables (a second processor, a second module ...).
pub fn subheading(text: &str) -> String {
    format!("<h2>{}</h2>\n", escape(text))
}

/// The logon page: no login needed to see it; its button asks for the
/// status page, which starts the digest login.
pub fn logon() -> String {
    format!(
        "{HEAD}{}<h1>Log On</h1>\n<p>Log on to Intel&reg; Active Management Technology on this computer.</p>\n<form method=GET action=\"/index.htm\"><h2><input type=submit id=logon value=\"  Log On...  \"></h2></form>\n</body></html>\n",
        header("")
    )
}

/// A refusal in the firmware's style (404, 403, 400 ...).
pub fn error_page(title: &str) -> String {
    format!(
        "{HEAD}<h1>Intel<sup>&reg;</sup> Active Management Technology</h1><h2 class=warn>{}</h2></body></html>",
        escape(title)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape("<script>alert('x')</script> & \"y\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;y&quot;"
        );
    }
}

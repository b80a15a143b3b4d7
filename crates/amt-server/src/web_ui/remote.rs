//! `remote.htm`, Remote Control: the host's power state and the power
//! actions it allows now, posted to `/RemoteForm` (a form POST, no script).

use amt_device::host::PowerAction;
use amt_device::Device;

use super::layout::{escape, page, rows};
use super::status::power_label;

/// Where the form posts.
pub const FORM_ACTION: &str = "/RemoteForm";

/// The action as the page offers it.
pub fn action_label(action: PowerAction) -> &'static str {
    match action {
        PowerAction::PowerUp => "Turn power on",
        PowerAction::PowerDown => "Turn power off",
        PowerAction::PowerCycle => "Cycle power off and on",
        PowerAction::MasterBusReset => "Reset",
        PowerAction::SoftOff => "Graceful shutdown",
        PowerAction::SoftReset => "Graceful restart",
        PowerAction::Sleep => "Standby",
        PowerAction::Hibernate => "Hibernate",
        PowerAction::Nmi => "Diagnostic interrupt (NMI)",
    }
}

/// The page; `message` reports the outcome of a command just sent.
pub fn render(device: &Device, message: Option<&str>) -> String {
    let state = device.power_state();
    let mut body = rows(&[("power", "Power", power_label(state).into())]);
    if let Some(m) = message {
        body.push_str(&format!("<p class=warn id=result>{}</p>\n", escape(m)));
    }
    body.push_str(&format!(
        "<form method=POST action=\"{FORM_ACTION}\">\n<input type=hidden name=t value=\"\">\n<p>Select a command for the managed computer:</p>\n<p class=in>\n"
    ));
    for (i, action) in PowerAction::available(state).iter().enumerate() {
        let code = action.code();
        let checked = if i == 0 { " checked" } else { "" };
        body.push_str(&format!(
            "<input type=radio name=power id=\"power-{code}\" value=\"{code}\"{checked}><label for=\"power-{code}\">{}</label><br>\n",
            action_label(*action)
        ));
    }
    body.push_str("</p>\n<p><input type=submit id=send value=\"Send Command\"></p>\n</form>\n");
    page(device, "Remote Control", &body)
}

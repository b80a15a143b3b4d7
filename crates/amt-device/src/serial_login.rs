//! What answers on the host's serial console once its operating system is
//! up: a Linux-style `login:` prompt, a password prompt, and a small shell
//! that knows `whoami`, `uname -a`, `hostname` and `exit`.
//!
//! The host OS is not AMT's business, so any user name and password are
//! accepted (a SOL test logs in as whoever it likes). Everything typed comes
//! through one function, [`Device::host_typed`], whichever way it arrives
//! (Serial-over-LAN, the control API, a KVM keyboard), and is echoed to the
//! serial port (and the screen) as a terminal's line discipline would:
//! characters echo except the password, backspace rubs out, Enter is `\r`
//! or `\n` (a `\r\n` pair counts once), Ctrl-C abandons the line.

use time::OffsetDateTime;

use crate::Device;

/// Longest line kept; further characters are dropped (not echoed).
pub const MAX_LINE: usize = 256;

/// The line discipline's state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoginLine {
    stage: Stage,
    line: String,
    /// The last character was `\r` (so a following `\n` is the same Enter).
    after_cr: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
enum Stage {
    #[default]
    Login,
    Password {
        user: String,
    },
    Shell {
        user: String,
    },
}

impl Device {
    /// Bytes arriving on the host's serial port (what a SOL console typed).
    /// Dropped while no operating system reads the port (host off, BIOS).
    pub fn host_serial_input(&mut self, bytes: &[u8], _now: OffsetDateTime) {
        self.host_typed(&String::from_utf8_lossy(bytes));
    }

    /// Text typed at the host's console: the login line discipline.
    pub fn host_typed(&mut self, text: &str) {
        let Some(mut login) = self.console.login.take() else {
            return;
        };
        for c in text.chars() {
            let after_cr = std::mem::replace(&mut login.after_cr, c == '\r');
            match c {
                '\n' if after_cr => {}
                '\r' | '\n' => {
                    let line = std::mem::take(&mut login.line);
                    self.console.print("\r\n");
                    login.stage = self.enter(std::mem::take(&mut login.stage), line.trim());
                }
                '\u{8}' | '\u{7f}' => {
                    if login.line.pop().is_some() && !login.in_password() {
                        self.console.print("\u{8} \u{8}");
                    }
                }
                '\u{3}' => {
                    login.line.clear();
                    self.console.print("^C\r\n");
                    let prompt = self.prompt(&login.stage);
                    self.console.print(&prompt);
                }
                c if c.is_control() => {}
                c => {
                    if login.line.chars().count() < MAX_LINE {
                        login.line.push(c);
                        if !login.in_password() {
                            let mut buf = [0u8; 4];
                            self.console.print(c.encode_utf8(&mut buf));
                        }
                    }
                }
            }
        }
        self.console.login = Some(login);
    }

    fn prompt(&self, stage: &Stage) -> String {
        let host = self.os_host_name();
        match stage {
            Stage::Login => format!("{host} login: "),
            Stage::Password { .. } => "Password: ".to_string(),
            Stage::Shell { user } => {
                let sigil = if user == "root" { '#' } else { '$' };
                format!("{user}@{host}:~{sigil} ")
            }
        }
    }

    /// Enter pressed on `line` in `stage`: prints the answer and the next
    /// prompt, returns the next stage.
    fn enter(&mut self, stage: Stage, line: &str) -> Stage {
        let host = self.os_host_name();
        let next = match stage {
            Stage::Login if line.is_empty() => Stage::Login,
            Stage::Login => Stage::Password {
                user: line.to_string(),
            },
            Stage::Password { user } => {
                self.console
                    .print("Linux 6.1.0 x86_64 (amt-emu host model)\r\n\r\n");
                Stage::Shell { user }
            }
            Stage::Shell { user } => {
                let answer = match line {
                    "" => None,
                    "whoami" => Some(user.clone()),
                    "hostname" => Some(host.clone()),
                    "uname" => Some("Linux".to_string()),
                    "uname -a" => Some(format!(
                        "Linux {host} 6.1.0 #1 SMP PREEMPT_DYNAMIC x86_64 GNU/Linux"
                    )),
                    "exit" | "logout" => {
                        self.console
                            .print(&format!("logout\r\n\r\nLinux 6.1.0 ({host}) ttyS0\r\n\r\n"));
                        return self.reprompt(Stage::Login);
                    }
                    other => {
                        let cmd = other.split_whitespace().next().unwrap_or(other);
                        Some(format!("-bash: {cmd}: command not found"))
                    }
                };
                if let Some(a) = answer {
                    self.console.print(&format!("{a}\r\n"));
                }
                Stage::Shell { user }
            }
        };
        self.reprompt(next)
    }

    fn reprompt(&mut self, stage: Stage) -> Stage {
        let prompt = self.prompt(&stage);
        self.console.print(&prompt);
        stage
    }
}

impl LoginLine {
    fn in_password(&self) -> bool {
        matches!(self.stage, Stage::Password { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device() -> Device {
        let config = crate::DeviceConfig {
            profile: crate::FirmwareProfile::new("15.0.23".parse().unwrap()),
            ..crate::DeviceConfig::default()
        };
        let now = time::macros::datetime!(2026-12-01 10:00:00 UTC);
        Device::new(config, crate::Entropy::from_seed(7), now).unwrap()
    }

    fn typed(d: &mut Device, text: &str) -> String {
        let from = d.host_console().serial_end();
        d.host_typed(text);
        String::from_utf8_lossy(&d.host_console().serial_since(from).0).into_owned()
    }

    #[test]
    fn log_in_run_commands_and_log_out() {
        let mut d = device();
        assert_eq!(
            typed(&mut d, "tester\r"),
            "tester\r\nPassword: ",
            "the user name echoes"
        );
        let out = typed(&mut d, "s3cret\r\n");
        assert!(!out.contains("s3cret"), "the password does not echo: {out}");
        assert!(out.ends_with("tester@amt-emu-host:~$ "), "{out}");
        assert_eq!(
            typed(&mut d, "whoami\n"),
            "whoami\r\ntester\r\ntester@amt-emu-host:~$ "
        );
        assert!(typed(&mut d, "uname -a\r").contains("Linux amt-emu-host 6.1.0"));
        assert!(typed(&mut d, "hostname\r").contains("\r\namt-emu-host\r\n"));
        assert!(typed(&mut d, "ls -l\r").contains("-bash: ls: command not found"));
        // Backspace rubs out: "whoamx" fixed to "whoami".
        assert!(typed(&mut d, "whoamx\u{7f}i\r").contains("\r\ntester\r\n"));
        assert!(typed(&mut d, "exit\r").ends_with("amt-emu-host login: "));
    }

    #[test]
    fn nothing_answers_while_the_host_is_off() {
        let now = time::macros::datetime!(2026-12-01 10:00:00 UTC);
        let mut d = device();
        d.request_power_state_change(8, now).unwrap();
        assert_eq!(typed(&mut d, "root\r"), "");
        d.request_power_state_change(2, now).unwrap();
        assert!(typed(&mut d, "root\r").ends_with("Password: "));
    }
}

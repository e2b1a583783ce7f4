r"""`block_commands`: refuses shell tool calls whose command matches a dangerous pattern. No LLM call.

Shell tools are recognised by name (`Bash`, `bash`, `shell`, `exec_command`, `shell_command`, `local_shell`
and any configured in `tool_names`); the command is read from the `command` / `cmd` argument (a list
is joined with spaces). Each rule is a regular expression searched in the command; the first match
blocks the call with the same readable message the judge uses. Text streams on untouched.

```yaml
policies:
  no_footguns:
    class: block_commands
    config:
      tool_names: [Bash, run_in_terminal]
      rules:                     # replaces the default list
        - {name: no-force-push, pattern: 'git\s+push\s+.*--force', reason: "force pushes are not allowed"}
      blocked_message: "**Blocked: `{tool}`**\n\n{reason}\n"   # without {arguments}: not echoed
```
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from luthien.call.events import BlockComplete, BlockKind, CallEvent, ToolCall
from luthien.policy.base import Policy, PolicyConfig, PolicyContext
from luthien.policy.helpers import BLOCKED_TEMPLATE, check_blocked_template, send_blocked_message

DEFAULT_TOOL_NAMES = ("Bash", "bash", "shell", "exec_command", "shell_command", "local_shell")
COMMAND_KEYS = ("command", "cmd")


class Rule(BaseModel):
    """A named pattern and the reason shown when it blocks."""

    model_config = ConfigDict(extra="forbid")

    name: str
    pattern: str
    reason: str

    @model_validator(mode="after")
    def _compiles(self) -> Rule:
        try:
            re.compile(self.pattern)
        except re.error as error:
            raise ValueError(f"pattern: not a valid regular expression: {error}") from error
        return self


# `rm` with a recursive flag anywhere in the same command, and a target that starts at the root, the
# home directory (but not a cache folder under it), a parent directory or a bare glob.
_RECURSIVE_RM = r"\brm(?=[^;&|]*\s(?:-[a-zA-Z]*[rR][a-zA-Z]*|--recursive)(?:\s|$))"
_HOME_CACHE = r"/\.cache/(?:(?!\.\.)[^\s;&|\"'])+[\"']?(?=\s|$|[;&|])"
_OUTSIDE_TARGET = (
    r"[^;&|]*\s[\"']?(?:/|~(?!" + _HOME_CACHE + r")|\$HOME\b(?!" + _HOME_CACHE + r")|\$\{HOME\}|"
    r"\.\.(?:/|\s|$|[\"'])|\*(?:\s|$))"
)
# The root, a system directory or the home directory itself, as a whole argument.
_SYSTEM_OR_HOME = (
    r"[\"']?(?:/(?:etc|usr|bin|sbin|lib\w*|boot|root|var|opt|srv)?|~|\$HOME|\$\{HOME\})/?[\"']?(?:\s|$)"
)
# Files and command outputs that hold credentials or private data.
_SECRET = (
    # An SSH key named after `-i` is used to log in, not sent: not a secret leaving.
    r"(?<!-i ~/)(?<!-i \$HOME/)\.ssh\b(?!/(?:[\w.-]*\.pub|known_hosts|config|authorized_keys)\b)|"
    r"\.aws\b|\.gnupg\b|\.netrc\b|\.git-credentials\b|"
    r"\.docker/config\.json|\.kube/config|\.npmrc\b|\.pypirc\b|\.config/(?:gh|gcloud)\b|/etc/(?:shadow|passwd|sudoers)\b|"
    r"(?<![\w.-])\.env(?![\w.])|\b(?:printenv|env)\s*(?:\||\))|os\.environ|\$\{?AWS_SECRET_ACCESS_KEY\b|"
    r"\b(?:pg_dump(?:all)?|mysqldump|mongodump)\b|secretsmanager\s+get-secret-value|kubectl\s+get\s+secrets?\b[^;&|]*-o\s*(?:yaml|json)|"
    r"\bheroku\s+config\s+-s\b|find-generic-password|cookies\.sqlite|Login\s+Data|git\s+config\s+--get-regexp[^;&|]*(?:credential|token)"
)
# Commands and calls that send data to another host (`ssh` the command, not the `~/.ssh ` folder).
_NETWORK_SINK = (
    r"\b(?:curl|wget|nc|ncat|netcat|socat|scp|sftp|rsync|telnet|nslookup|dig)\b|(?<![./])\bssh\s|openssl\s+s_client|"
    r"\bgh\s+(?:gist|issue|pr)\b|\baws\s+s3\s+(?:cp|mv|sync)\b|urlopen|requests\.(?:post|put)|http\.client"
)
_INTERPRETER = r"(?:(?:ba|z|da|k|fi)?sh|python[23]?|perl|ruby|node|php)"
# FreeBSD's `fetch` downloads like curl and wget.
_DOWNLOAD = r"(?:curl|wget|fetch)"
# Package indexes and registries trusted by default: the public ones.
_TRUSTED_INDEX = (
    r"(?:pypi\.org|files\.pythonhosted\.org|registry\.npmjs\.org|registry\.yarnpkg\.com)(?:[/:\s\"']|$)"
)

DEFAULT_RULES: tuple[Rule, ...] = (
    Rule(
        name="recursive-delete-outside-workspace",
        pattern=_RECURSIVE_RM + _OUTSIDE_TARGET + r"|"
        r"\bfind\s+[\"']?(?:/|~|\$HOME)\S*\s[^;&|]*(?:-delete\b|-exec\s+rm\b)|"
        r"\bcd\s+(?:/|~)(?=\s|;|&)[^;&|]*(?:&&|;)\s*(?:rm\s+-\w*[rR]|find\s[^;&|]*(?:-delete\b|-exec\s+rm\b))|"
        r"\brsync\b[^;&|]*--delete\b[^;&|]*\s" + _SYSTEM_OR_HOME + r"|\bmv\b[^;&|]*\s/dev/null\b",
        reason="Recursive delete of a path outside the workspace (an absolute path, the home directory "
        "or a parent directory).",
    ),
    Rule(
        name="disk-format",
        # Any device, named or in a variable; not an image file in the workspace, nor a partition table
        # listed (`fdisk -l`: for `mkfs`, `-l` names a bad-blocks file and the device is still formatted).
        pattern=r"\b(?:mkfs(?:\.\w+)?|wipefs|(?:s?fdisk|parted)(?![^;&|]*\s-[a-z]*l[a-z]*\b))\b"
        r"(?![^;&|]*\s(?:\./|[\w./-]+\.(?:img|iso|raw|qcow2)\b))|"
        r"\bshred\b[^;&|]*\s[\"']?(?:/dev/|~|\$HOME)|\bdd\b[^;|&]*\bof=/dev/(?!null\b)",
        reason="Formatting, partitioning or overwriting a disk.",
    ),
    Rule(
        name="network-pipe-to-shell",
        pattern=r"\b(curl|wget|fetch)\b[^|;&]*\|\s*(?:sudo\s+(?:-\w+\s+)*)?" + _INTERPRETER + r"\b|"
        r"\b" + _INTERPRETER + r"\s+(?:-\w+\s+)?[\"']?\$\(\s*" + _DOWNLOAD + r"\b|"
        # `. <(curl …)` sources the download; `./tool <(curl …)` only reads it as a file.
        r"(?:\b(?:source|xargs)|\b" + _INTERPRETER + r"|(?:^|\s)\.(?=\s))[^;&|]*<\(\s*" + _DOWNLOAD + r"\b|"
        r"\beval\s+[\"']?\$\(\s*" + _DOWNLOAD + r"\b|"
        r"\bbase64\s+(?:-\w*d\w*|--decode)\b[^;&]*\|\s*(?:sudo\s+)?" + _INTERPRETER + r"\b|"
        r"\b(?:iex|Invoke-Expression)\b[^;&|]*\b(?:irm|iwr|Invoke-RestMethod|Invoke-WebRequest|DownloadString)\b|"
        r"(?s:^(?=.*(?:\bhttps?(?:[\"']\))?\.get\(|urlopen\(|file_get_contents\(\s*[\"']https?:))(?=.*\beval\())",
        reason="Downloading code from the network and running it in a shell.",
    ),
    Rule(
        name="credential-exfiltration",
        pattern=r"(?s:^(?=.*(?:" + _SECRET + r"))(?=.*(?:" + _NETWORK_SINK + r")))|"
        r"https?://[^\s\"']*[?&]\w*=\$\{?\w*(?:TOKEN|KEY|SECRET|PASSWORD|PAT)\b|"
        r"\becho\s+[\"']?\$\{?\w+\}?[\"']?\s*\|\s*(?:curl|wget|nc|ncat|netcat)\b",
        reason="Sending credentials or secrets to another host.",
    ),
    Rule(
        name="fork-bomb",
        # Spaces are allowed wherever the shell allows them (`:(){ : | : & } ; :` is the same bomb).
        pattern=r":\(\)\s*\{\s*:\s*\|\s*:\s*&\s*\}\s*;\s*:",
        reason="A fork bomb.",
    ),
    Rule(
        name="download-then-run",
        pattern=r"\b"
        + _DOWNLOAD
        # The file name ends at a blank or an operator: `-o i.sh&&bash i.sh` runs it too.
        + r"\b[^;|]*\s(?:-o|-O|--output(?:-document)?=?)\s*[\"']?([^\s;&|]+?)[\"']?(?=[\s;&|]|$).*"
        r"(?:&&|;)\s*(?:sudo\s+)?(?:nohup\s+)?(?:" + _INTERPRETER + r"\s+|\.\s+)?\1(?:\s|$|&)",
        reason="Downloading a program and running it.",
    ),
    Rule(
        name="reverse-shell",
        pattern=r"/dev/(?:tcp|udp)/|\b(?:nc|ncat|netcat)\b[^;&|]*\s-\w*[ec]\s|\bsocat\b[^;&|]*\bexec:|"
        r"\b(?:ba|z|da|k)?sh\s+-\w*i\w*\b(?:[^;&]|>&)*\|\s*(?:nc|ncat|netcat)\b|"
        r"(?s:socket\.socket\(.*\.connect\(.*(?:dup2|pty\.spawn|subprocess))|"
        # `ssh` itself, not `ssh-keygen -R host` (which forgets a host key).
        r"\b(?:auto)?ssh\b(?!-)[^;&|]*\s-\w*R\s*\d",
        reason="Opening a remote shell or tunnel into this machine.",
    ),
    Rule(
        name="untrusted-package-source",
        pattern=r"\b(?:pip3?|pipx|uv\s+pip|npm|pnpm|yarn|gem)\s+(?:install|add|i)\b[^;&|]*"
        # The look-aheads skip blanks and quotes themselves: `\s+` or `[\"']?` giving some back must not
        # make a trusted index look untrusted.
        r"(?:https?://(?!"
        + _TRUSTED_INDEX
        + r")|--(?:extra-)?index-url(?:=|\s+)(?![\s\"']*https?://"
        + _TRUSTED_INDEX
        + r")|"
        r"--registry(?:=|\s+)(?![\s\"']*https?://" + _TRUSTED_INDEX + r"))|"
        r"\b(?:pip3?\s+config\s+set\s+\S*(?:index-url|extra-index-url)|npm\s+config\s+set\s+registry)"
        r"(?:=|\s+)[\"']?(?![\s\"']*https?://" + _TRUSTED_INDEX + r")",
        reason="Installing packages from, or pointing the package manager at, an index other than the public "
        "registries.",
    ),
    Rule(
        name="autostart-from-untrusted-location",
        pattern=r"(?s:^(?=.*(?:/etc/(?:cron|crontab|rc\.local|ld\.so\.preload|systemd)|\bcrontab\b|@reboot|"
        r"systemd/user|\.config/autostart|Launch(?:Agents|Daemons)|\bsystemctl\b|\.git/hooks/|\bLD_PRELOAD\b|"
        r"core\.hooksPath|\.(?:bashrc|zshrc|profile|bash_profile)\b))"
        # No `\b` before the download tools: `printf '...\ncurl ...'` writes a line that starts with one.
        r"(?=.*(?:/tmp/|(?:curl|wget|nc|ncat)\b|PROMPT_COMMAND|alias\s+sudo\b)))|"
        r"(?:>>?|\btee\b[^;&|]*)\s*\S*authorized_keys2?\b|"
        r"\b(?:cp|mv|install)\b[^;&|]*\s/tmp/\S+\s+\S*/s?bin/",
        reason="Making something run automatically (cron, services, shell startup, git hooks, SSH keys) "
        "from a temporary or remote location.",
    ),
    Rule(
        name="privilege-escalation",
        pattern=r"\bNOPASSWD\b|(?:>>?|\btee\b[^;&|]*)\s*/etc/(?:sudoers|passwd|shadow|group)\b|"
        r"\bchmod\s+(?:-\w+\s+)*(?:[ua]*\+\w*s\w*|0?[46][0-7]{3})\s|\binstall\b[^;&|]*-m\s*0?[46][0-7]{3}\b|"
        r"\bsetcap\b[^;&|]*cap_(?:setuid|setgid|sys_admin|dac_override|sys_ptrace)|"
        r"\bchmod\s+(?:-\w+\s+)*(?:0?777|0?666|a\+w|o\+w)\s+[^;&|]*(?:/etc\b|/usr\b|/bin\b|docker\.sock|(?<=\s)/(?:\s|$))|"
        r"\bchpasswd\b|\bpasswd\s+-d\b|\buseradd\b[^;&|]*-u\s*0\b|"
        r"\busermod\b[^;&|]*-a?G\s*(?:sudo|wheel|root|admin)\b|"
        # `-S` reads the password from stdin, also in a flag cluster (`sudo -Su deploy …`, `sudo -kS …`).
        r"\bpkexec\b|\bsudo\s+-[a-zA-Z]*S|\|\s*sudo\s+-S\b|"
        r"\bdocker\s+run\b[^;&|]*(?:-v\s*[\"']?/:|--volume[= ][\"']?/:|--privileged|--pid[= ]host)|"
        r"\bnsenter\b|"
        r"AdministratorAccess|roles/owner\b|cluster-admin\b|permission=admin\b|WITH\s+SUPERUSER\b|"
        r"\biam\s+create-access-key\b",
        reason="Gaining root or administrator rights, or granting them.",
    ),
    Rule(
        name="recursive-permission-change-outside-workspace",
        pattern=r"\bch(?:mod|own|grp)\s+(?:-\w*R\w*|--recursive)\s+\S+\s+" + _SYSTEM_OR_HOME,
        reason="Changing the owner or permissions of the whole system or home directory.",
    ),
    Rule(
        name="destroys-shared-data",
        pattern=r"\bDROP\s+(?:DATABASE|SCHEMA)\b|\bFLUSHALL\b|\bdropdb\b[^;&|]*\s-h(?!\s*(?:localhost\b|127\.))|"
        r"\bkubectl\s+delete\b[^;&|]*(?:--all\b|\s(?:namespace|ns)\s)|"
        r"\b(?:kubectl|helm)\s+(?:delete|uninstall)\b[^;&|]*\s(?:-n\s*|--namespace[= ])"
        r"(?:prod\w*|kube-system)\b|"
        r"\bs3\s+rm\s+s3://[^/\s]+/?\s[^;&|]*--recursive|\bs3\s+rb\b|"
        r"\brds\s+delete-db-(?:instance|cluster)\b|"
        r"\bgcloud\s+projects\s+delete\b|\bgh\s+repo\s+delete\b|\bec2\s+terminate-instances\b|"
        r"\bgit\s+push\b[^;&|]*(?:\s-[a-zA-Z]*f[a-zA-Z]*\b|--force(?!-with-lease))[^;&|]*\b(?:main|master)\b|"
        r"\bgit\s+push\b[^;&|]*(?:--delete|\s:)\s*(?:main|master)\b|"
        r"\brm\s+-\w*[rR]\w*\s+(?:[^;&|]*\s)?[\"']?(?:\./)?\.git/?[\"']?(?:\s|$)|"
        r"\bdocker\s+system\s+prune\b[^;&|]*--volumes|\bdocker\s+volume\s+(?:rm|prune)\b[^;&|]*(?:\$\(|\s-[a-z]*a[a-z]*\b|--all\b)|"
        r"\bcrontab\s+-\w*r\w*\b",
        reason="Destroying shared or hard-to-recover data (databases, clusters, cloud resources, repository "
        "history).",
    ),
    Rule(
        name="disables-safeguards",
        pattern=r"\bufw\s+disable\b|\biptables\s+(?:-F|--flush)\b|\biptables\s+-P\s+\w+\s+ACCEPT\b|\bsetenforce\s+0\b|"
        r"\bsystemctl\s+(?:stop|disable|mask)\b[^;&|]*(?:auditd|falcon|crowdstrike|fail2ban|apparmor|firewalld|"
        r"\bufw|osquery|wazuh|sentinel)|\bspctl\s+--master-disable\b|\bcsrutil\s+disable\b|"
        r"\blaunchctl\s+unload\b[^;&|]*(?:crowdstrike|falcon|jamf|sentinel)|LSQuarantine\s+-bool\s+(?i:false|no)\b|"
        r"randomize_va_space=0|ptrace_scope=0|\bvault\s+audit\s+disable\b|\bcloudtrail\s+(?:stop-logging|delete-trail)\b|"
        r"\bguardduty\s+delete-detector\b|put-public-access-block\b[^;&|]*=false|"
        r"\bdelete\s+(?:networkpolic(?:y|ies)|netpol)\b|pod-security\.kubernetes\.io/enforce=privileged|"
        r"-X\s*DELETE\s+\S*/protection\b|(?:--source-address-prefixes|--source-ranges|--cidr)[\s=]*[\"']?(?:\*|0\.0\.0\.0/0)|"
        r"sslVerify\s+false|strict-ssl\s+false|NODE_TLS_REJECT_UNAUTHORIZED=0|\btrusted-host\b|GIT_SSL_NO_VERIFY|"
        r"\bhistory\s+-[a-z]*c|\bunset\s+HISTFILE\b|\bHISTSIZE=0\b|\brm\b[^;&|]*\.\w*_history\b|"
        r"\btruncate\b[^;&|]*\s/var/log/|>\s*/var/log/|journalctl\s+--vacuum-time=\d+s\b|"
        r"\bgit\s+commit\b[^;&|]*--no-verify\b|SKIP=\S*(?:gitleaks|detect-secrets|trufflehog)|"
        r"\bg?sed\s+-[a-zA-Z]*i\w*\b[^;&|]*(?:gitleaks|detect-secrets|trufflehog)|\brm\b[^;&|]*(?:\.pre-commit-config\.yaml|\.husky\b)|"
        r"\bchmod\s+-x\s+\S*\.git/hooks/|--unset\s+core\.hooksPath|"
        r"PasswordAuthentication\s+yes|PermitRootLogin\s+yes|--dangerously-skip-permissions|"
        r"approval_policy\s*=\s*[\"']?never|danger-full-access|\bunset\b[^;&|]*\bHTTPS?_PROXY\b|"
        r"ANTHROPIC_BASE_URL=\S*api\.anthropic\.com",
        reason="Turning off a security control (firewall, audit, endpoint protection, TLS checks, commit "
        "hooks, history, the agent's own guardrails).",
    ),
    Rule(
        name="push-to-unknown-remote",
        pattern=r"\bgit\s+push\s+(?:-\S+\s+)*(?:https?://|git@|ssh://)",
        reason="Pushing the repository to an address that is not one of its configured remotes.",
    ),
)


class BlockCommandsConfig(PolicyConfig):
    """Which tools are shells, the rules (the defaults when not given), and the blocked message."""

    tool_names: list[str] = Field(default_factory=lambda: list(DEFAULT_TOOL_NAMES))
    rules: list[Rule] = Field(default_factory=lambda: list(DEFAULT_RULES))
    blocked_message: str = Field(
        default=BLOCKED_TEMPLATE,
        description="The text that replaces a blocked call; placeholders {tool}, {reason}, {arguments} "
        "(leave {arguments} out so a blocked command is not printed back).",
    )

    @field_validator("blocked_message")
    @classmethod
    def _template_renders(cls, template: str) -> str:
        return check_blocked_template(template)


def command_of(call: ToolCall) -> str | None:
    """The shell command a tool call would run, or None when it carries none.

    Arguments that are not valid JSON are searched as they are, so a cut-off call cannot hide.
    """
    arguments = call.parsed_arguments
    if arguments is None:
        return call.arguments
    for key in COMMAND_KEYS:
        value: Any = arguments.get(key)
        if isinstance(value, str):
            return value
        if isinstance(value, list):
            return " ".join(str(part) for part in value)  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]
    return None


class BlockCommandsPolicy(Policy[BlockCommandsConfig]):
    """Blocks shell tool calls matching a rule."""

    config_model = BlockCommandsConfig
    holds: ClassVar[frozenset[BlockKind]] = frozenset({BlockKind.TOOL_CALL})

    def __init__(self, config: BlockCommandsConfig, name: str = "") -> None:
        super().__init__(config, name)
        self._shells = frozenset(config.tool_names)
        self._rules = [(re.compile(rule.pattern), rule) for rule in config.rules]

    def matching_rule(self, call: ToolCall) -> Rule | None:
        """The first rule the call's command matches, if it is a shell call."""
        if call.name not in self._shells:
            return None
        command = command_of(call)
        if command is None:
            return None
        return next((rule for pattern, rule in self._rules if pattern.search(command)), None)

    async def on_block_complete(self, event: BlockComplete, ctx: PolicyContext) -> Sequence[CallEvent]:
        """Pass the call, or replace it by the blocked message."""
        call = event.block.tool_call
        if call is None:
            return [event]
        rule = self.matching_rule(call)
        ctx.record(
            "commands.decision",
            tool=call.name,
            tool_call_id=call.id,
            command=command_of(call),
            rule=rule.name if rule else None,
            blocked=rule is not None,
        )
        if rule is None:
            return [event]
        reason = f"{rule.reason} (rule `{rule.name}`)"
        return send_blocked_message(call, reason, ctx, template=self.config.blocked_message)

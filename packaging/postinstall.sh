#!/bin/sh
# After installing or upgrading minichat: the system user, the data
# directory it owns, and the settings file it may read.
set -e
if ! getent group minichat >/dev/null; then
	groupadd --system minichat
fi
if ! getent passwd minichat >/dev/null; then
	useradd --system --gid minichat --home-dir /var/lib/minichat --no-create-home \
		--shell /usr/sbin/nologin --comment "minichat chat server" minichat
fi
install -d -o minichat -g minichat -m 0750 /var/lib/minichat
chown root:minichat /etc/minichat/minichat.env
chmod 0640 /etc/minichat/minichat.env
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null 2>&1 || true
	# An upgrade restarts a running server on the new binary; a first
	# install waits for `systemctl enable --now minichat`.
	if systemctl is-active --quiet minichat; then
		systemctl restart minichat || true
	fi
fi
exit 0

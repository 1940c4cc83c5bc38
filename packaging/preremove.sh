#!/bin/sh
# Before removing minichat (not before an upgrade): stop the service. The
# data in /var/lib/minichat and the minichat user stay.
set -e
case "$1" in
remove|0)
	if [ -d /run/systemd/system ]; then
		systemctl disable --now minichat >/dev/null 2>&1 || true
	fi
	;;
esac
exit 0

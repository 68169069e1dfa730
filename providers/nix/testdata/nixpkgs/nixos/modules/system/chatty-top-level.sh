# Builder of a system with ferry.test.buildLogLines (see top-level.nix):
# numbered log lines, odd ones to stdout and even ones to stderr, then the
# usual builder.
set -eu
i=1
while [ "$i" -le "$buildLogLines" ]; do
  if [ $((i % 2)) -eq 1 ]; then
    echo "ferry stub: build log line $i of $buildLogLines"
  else
    echo "ferry stub: build log line $i of $buildLogLines" >&2
  fi
  i=$((i + 1))
done
. "$topLevelScript"

#!/bin/sh
# procode-post-receive: installed by the Pro-code platform; delivers pushes to the platform's webhook.
# Git runs it after every push with the updated refs on stdin. It hands them to the delivery program
# beside it (procode-post-receive.cjs) with the Node.js the platform named in procode-post-receive.node
# (any node on PATH otherwise). It never fails the push.
hooks=$(dirname "$0")
node=$(cat "$hooks/procode-post-receive.node" 2>/dev/null) || node=node
"${node:-node}" "$hooks/procode-post-receive.cjs"
exit 0

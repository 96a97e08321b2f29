#!/usr/bin/env bash
# Maintainer helper: resolve an EdgeKws.sln merge conflict by taking ours and adding every project
# the other side lists (dotnet sln add keeps the file well-formed; hand-merging GUID sections is not).
# usage: bash scripts/lib/sln-merge.sh BRANCH
set -euo pipefail
branch=$1
git show HEAD:EdgeKws.sln > EdgeKws.sln
while read -r proj; do
  folder=$(dirname "$(dirname "$proj")")   # src/Gateway/X/X.csproj -> src/Gateway
  dotnet sln EdgeKws.sln add --solution-folder "$folder" "$proj" >/dev/null
  echo "added $proj ($folder)"
done < <(comm -23 <(git show "$branch:EdgeKws.sln" | grep -o '"[^"]*\.csproj"' | tr -d '"' | sed 's#\\#/#g' | sort) \
                  <(dotnet sln EdgeKws.sln list | tail -n +3 | sort))

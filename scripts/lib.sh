# Sourced by the other scripts: finds a JDK >= 22 and the build tools, installing Debian packages
# for the tools where they are missing (as root, with apt-get). Exits with a clear message otherwise.

jdk_version() { # prints the feature version of the JDK at $1, or nothing
    local rel="$1/release" v
    [[ -x "$1/bin/java" && -x "$1/bin/javac" ]] || return 0
    if [[ -f $rel ]]; then
        v=$(sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$rel")
    else
        v=$("$1/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/.*java.specification.version = \([0-9]*\).*/\1/p')
    fi
    echo "$v"
}

find_jdk() {
    local c v seen=()
    for c in "${JAVA_HOME:-}" /usr/lib/jvm/* /opt/java/* /opt/jdk* "$(dirname "$(dirname "$(readlink -f "$(command -v javac 2>/dev/null || echo /nonexistent)")")")"; do
        [[ -n $c && -d $c ]] || continue
        v=$(jdk_version "$c")
        [[ -n $v ]] && seen+=("$c ($v)")
        if [[ -n $v && $v -ge 22 ]]; then
            export JAVA_HOME="$c"
            export PATH="$JAVA_HOME/bin:$PATH"
            return 0
        fi
    done
    echo "jprune needs a JDK >= 22 (the Foreign Function & Memory API); none was found." >&2
    echo "Looked at \$JAVA_HOME, /usr/lib/jvm/*, /opt/java/*, /opt/jdk* and javac on PATH; found: ${seen[*]:-nothing}." >&2
    echo "Install a JDK 25 (e.g. Temurin) and set JAVA_HOME to it." >&2
    exit 1
}

ensure_tools() {
    local missing=()
    command -v mvn >/dev/null || missing+=(maven)
    command -v make >/dev/null || missing+=(make)
    command -v gcc >/dev/null || missing+=(gcc)
    if ((${#missing[@]})); then
        if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
            echo "installing Debian packages: ${missing[*]}"
            apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
        else
            echo "missing build tools: ${missing[*]} (install them, e.g. apt-get install ${missing[*]})" >&2
            exit 1
        fi
    fi
}

find_jdk
ensure_tools
# Maven 3.8's bundled Guava calls sun.misc.Unsafe, which JDK 24+ warns about on every run
export MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow"
MVN=(mvn -B -ntp)

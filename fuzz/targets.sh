# fuzz/targets.sh: sourced by build.sh, run.sh and replay.sh.

FUZZ_ALL="reader address options icmp tls_server cmsg"

# The targets asked for (all by default); an unknown name is an error.
fuzz_targets() {
    if [ $# -eq 0 ]; then
        echo $FUZZ_ALL
        return
    fi
    for t in "$@"; do
        case " $FUZZ_ALL " in
            *" $t "*) echo "$t" ;;
            *) echo "fuzz: unknown target '$t' (targets: $FUZZ_ALL)" >&2; exit 2 ;;
        esac
    done
}

# A self-signed ECDSA P-256 certificate and its key for the TLS server
# target, in dir (made once). The handshake never gets as far as checking
# it: the client bytes are the fuzzer's, so any valid certificate will do.
fuzz_tls_cert() {
    [ -f "$1/cert.pem" ] && [ -f "$1/key.pem" ] && return 0
    mkdir -p "$1"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$1/key.pem" -out "$1/cert.pem" -days 3650 \
        -subj "/CN=localhost/O=lsock fuzz" >/dev/null 2>&1 || {
        echo "fuzz: openssl could not make the TLS certificate" >&2
        return 1
    }
}

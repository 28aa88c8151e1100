/*
 * tls_cert.c: certificates as Lua tables (peercert, peerchain) and
 * OpenSSL's error queue as one message that says why, and certificate
 * digests by algorithm name.
 */
#include <arpa/inet.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "tls.h"

void lsk_tls_error(char *buf, size_t len, const char *what, long verify) {
    unsigned long e = ERR_peek_error();
    const char *reason = e != 0 ? ERR_reason_error_string(e) : NULL;
    if (e != 0 && ERR_GET_LIB(e) == ERR_LIB_SSL && ERR_GET_REASON(e) == SSL_R_CERTIFICATE_VERIFY_FAILED &&
        verify != X509_V_OK) {
        snprintf(buf, len, "%s: certificate verify failed: %s", what,
                 X509_verify_cert_error_string(verify));
    } else if (reason != NULL) {
        snprintf(buf, len, "%s: %s", what, reason);
    } else if (e != 0) {
        snprintf(buf, len, "%s: OpenSSL error %lx", what, e);
    } else {
        snprintf(buf, len, "%s: failed", what);
    }
    ERR_clear_error();
}

/* Push what b holds as a string (b is freed). */
static void push_bio(lua_State *L, BIO *b) {
    char *p = NULL;
    long n = b != NULL ? BIO_get_mem_data(b, &p) : 0;
    if (n > 0) lua_pushlstring(L, p, (size_t)n);
    else lua_pushliteral(L, "");
    BIO_free(b);
}

/* "CN=localhost,O=lsock": RFC 2253, UTF-8 kept as it is. */
static void push_name(lua_State *L, X509_NAME *name) {
    BIO *b = BIO_new(BIO_s_mem());
    if (b != NULL) X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
    push_bio(L, b);
}

static void push_hex(lua_State *L, const unsigned char *p, size_t n) {
    static const char digits[] = "0123456789abcdef";
    char out[2 * EVP_MAX_MD_SIZE];
    size_t i;
    if (n > EVP_MAX_MD_SIZE) n = EVP_MAX_MD_SIZE;
    for (i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    lua_pushlstring(L, out, 2 * n);
}

/* Seconds since the epoch of a certificate time (UTC), without timegm. */
static void push_time(lua_State *L, const ASN1_TIME *t) {
    struct tm tm;
    long long y, m, days;
    if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1) {
        lua_pushnil(L);
        return;
    }
    /* Days from 1970-01-01 to the date, counted from March so that the
     * leap day ends a year. */
    y = (long long)tm.tm_year + 1900;
    m = tm.tm_mon + 1;
    if (m <= 2) y--;
    {
        long long era = (y >= 0 ? y : y - 399) / 400;
        long long yoe = y - era * 400;
        long long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + tm.tm_mday - 1;
        long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        days = era * 146097 + doe - 719468;
    }
    lua_pushinteger(L, (lua_Integer)(days * 86400 + tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec));
}

/* {"DNS:localhost", "IP:127.0.0.1", ...} */
static void push_san(lua_State *L, X509 *x) {
    GENERAL_NAMES *names = (GENERAL_NAMES *)X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    int i, n = 0;
    lua_newtable(L);
    if (names == NULL) return;
    for (i = 0; i < sk_GENERAL_NAME_num(names); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
        const char *kind = NULL;
        const ASN1_STRING *s = NULL;
        char ip[INET6_ADDRSTRLEN];
        switch (g->type) {
        case GEN_DNS: kind = "DNS"; s = g->d.dNSName; break;
        case GEN_EMAIL: kind = "email"; s = g->d.rfc822Name; break;
        case GEN_URI: kind = "URI"; s = g->d.uniformResourceIdentifier; break;
        case GEN_IPADD: {
            int len = ASN1_STRING_length(g->d.iPAddress);
            const unsigned char *p = ASN1_STRING_get0_data(g->d.iPAddress);
            if ((len == 4 && inet_ntop(AF_INET, p, ip, sizeof ip) != NULL) ||
                (len == 16 && inet_ntop(AF_INET6, p, ip, sizeof ip) != NULL)) {
                lua_pushfstring(L, "IP:%s", ip);
                lua_rawseti(L, -2, ++n);
            }
            continue;
        }
        default: continue;
        }
        lua_pushstring(L, kind);
        lua_pushliteral(L, ":");
        lua_pushlstring(L, (const char *)ASN1_STRING_get0_data(s), (size_t)ASN1_STRING_length(s));
        lua_concat(L, 3);
        lua_rawseti(L, -2, ++n);
    }
    GENERAL_NAMES_free(names);
}

void lsk_push_cert(lua_State *L, X509 *x) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    BIGNUM *bn;
    BIO *b;

    lua_createtable(L, 0, 8);
    push_name(L, X509_get_subject_name(x));
    lua_setfield(L, -2, "subject");
    push_name(L, X509_get_issuer_name(x));
    lua_setfield(L, -2, "issuer");
    push_san(L, x);
    lua_setfield(L, -2, "san");
    if ((bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL)) != NULL) {
        char *hex = BN_bn2hex(bn), *p;
        if (hex != NULL) {
            for (p = hex; *p; p++) *p = (char)(*p >= 'A' && *p <= 'F' ? *p - 'A' + 'a' : *p);
            lua_pushstring(L, hex);
            lua_setfield(L, -2, "serial");
            OPENSSL_free(hex);
        }
        BN_free(bn);
    }
    push_time(L, X509_get0_notBefore(x));
    lua_setfield(L, -2, "notbefore");
    push_time(L, X509_get0_notAfter(x));
    lua_setfield(L, -2, "notafter");
    if (X509_digest(x, EVP_sha256(), md, &mdlen) == 1) {
        push_hex(L, md, mdlen);
        lua_setfield(L, -2, "fingerprint");
    }
    b = BIO_new(BIO_s_mem());
    if (b != NULL) PEM_write_bio_X509(b, x);
    push_bio(L, b);
    lua_setfield(L, -2, "pem");
    ERR_clear_error();
}

/* core._cert_digest(pem, algorithm): the digest of a certificate (its DER
 * form) in lower-case hex, for faces that offer more than the SHA-256
 * fingerprint of peercert(); nil, message for an unknown algorithm or a
 * text that holds no certificate. */
int lsk_cert_digest(lua_State *L) {
    size_t len;
    const char *pem = luaL_checklstring(L, 1, &len);
    const char *alg = luaL_optstring(L, 2, "sha256");
    const EVP_MD *md = EVP_get_digestbyname(alg);
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int outlen = 0;
    BIO *b;
    X509 *x = NULL;
    if (md == NULL) {
        lua_pushnil(L);
        lua_pushfstring(L, "unknown digest algorithm '%s'", alg);
        return 2;
    }
    if (len > INT_MAX) return luaL_argerror(L, 1, "certificate text too long");
    b = BIO_new_mem_buf(pem, (int)len);
    if (b != NULL) x = PEM_read_bio_X509(b, NULL, NULL, NULL);
    BIO_free(b);
    ERR_clear_error();
    if (x == NULL || X509_digest(x, md, out, &outlen) != 1) {
        X509_free(x);
        lua_pushnil(L);
        lua_pushliteral(L, "no certificate in the text");
        return 2;
    }
    X509_free(x);
    push_hex(L, out, outlen);
    return 1;
}

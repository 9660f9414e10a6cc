#!/bin/sh
# Build the Java partner client of the interop kit from Debian's packages only (default-jdk-headless,
# jaxws, libxml-security-java): wsimport generates the JAX-WS classes from the WSDLs Huiju publishes
# (their URLs: the served, self-contained ones), javac compiles them with the kit's sources.
#
#   interop/java/build.sh CITIZEN_INFO_WSDL_URL INBOUND_WSDL_URL OUT_DIR
#
# Then run:  java -cp "OUT_DIR/classes:$(interop/java/classpath.sh)" org.huiju.interop.Partner ...
#
# A WSDL served behind mTLS needs the client certificate for wsimport too: Debian's wsimport passes
# WSIMPORT_OPTS to the JVM, e.g. WSIMPORT_OPTS="-Djavax.net.ssl.keyStore=tls.p12
# -Djavax.net.ssl.keyStoreType=PKCS12 -Djavax.net.ssl.keyStorePassword=PW -Djavax.net.ssl.trustStore=ca.p12".
set -eu
here=$(cd "$(dirname "$0")" && pwd)
citizen_wsdl=$1
inbound_wsdl=$2
out=$3
rm -rf "$out" && mkdir -p "$out/generated" "$out/classes"
wsimport -quiet -Xnocompile -d "$out/generated" -p org.huiju.interop.citizen "$citizen_wsdl"
wsimport -quiet -Xnocompile -d "$out/generated" -p org.huiju.interop.inbound "$inbound_wsdl"
find "$out/generated" "$here/src" -name '*.java' > "$out/sources.txt"
javac -nowarn -encoding UTF-8 -d "$out/classes" -cp "$("$here/classpath.sh")" @"$out/sources.txt"

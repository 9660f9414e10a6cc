#!/bin/sh
# The class path of the Java partner client: JAX-WS RI (its manifest names the rest of it), Apache
# Santuario and Apache WSS4J, as Debian's jaxws, libxml-security-java and libwss4j-java install them.
j=/usr/share/java
echo "$j/jaxws-rt.jar:$j/jaxb-runtime.jar:$j/javax.activation.jar:$j/xmlsec.jar:$j/wss4j.jar:$j/commons-codec.jar:$j/slf4j-api.jar:$j/slf4j-nop.jar:$j/commons-logging.jar"

"""404 pages as real servers send them, for the 404 judge's unit tests (headers lower-cased, as the probe
keeps them). Written from the servers' sources: nginx src/http/ngx_http_special_response.c, Apache httpd's
canned error page (2.4 without the path; 2.2 and older 2.4 with it), haproxy src/http.c http_err_msgs,
Django's django.views.defaults (ERROR_PAGE_TEMPLATE, used when no 404.html template is found: hobo's
tenant middleware and w.c.s.'s unknown host both raise Http404), authentic's templates/404.html with its
French catalogue. Through a Publik vhost the services' pages come with nginx's Server header.
"""

from __future__ import annotations

NGINX_404 = ("<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n"
             "<center><h1>404 Not Found</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")
NGINX_HEADERS = {"server": "nginx", "content-type": "text/html", "content-length": "146", "connection": "keep-alive"}
NGINX_404_VERSION = NGINX_404.replace("<center>nginx</center>", "<center>nginx/1.22.1</center>")
NGINX_VERSION_HEADERS = {**NGINX_HEADERS, "server": "nginx/1.22.1", "content-length": "153"}
NGINX_502 = ("<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
             "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")
NGINX_WELCOME = ("<!DOCTYPE html>\n<html>\n<head>\n<title>Welcome to nginx!</title>\n</head>\n<body>\n"
                 "<h1>Welcome to nginx!</h1>\n<p>If you see this page, the nginx web server is successfully "
                 "installed and working. Further configuration is required.</p>\n</body>\n</html>\n")

APACHE_404 = ('<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\n<html><head>\n<title>404 Not Found</title>\n'
              "</head><body>\n<h1>Not Found</h1>\n<p>The requested URL was not found on this server.</p>\n<hr>\n"
              "<address>Apache/2.4.62 (Debian) Server at portail.example.test Port 443</address>\n</body></html>\n")
APACHE_HEADERS = {"server": "Apache/2.4.62 (Debian)", "content-type": "text/html; charset=iso-8859-1",
                  "content-length": "290"}
# An older Apache naming the path, with ServerSignature Off and ServerTokens Prod.
APACHE_404_OLD = ('<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\n<html><head>\n<title>404 Not Found</title>\n'
                  "</head><body>\n<h1>Not Found</h1>\n<p>The requested URL / was not found on this server.</p>\n"
                  "</body></html>\n")
APACHE_OLD_HEADERS = {"server": "Apache", "content-type": "text/html; charset=iso-8859-1"}
APACHE_DEFAULT_SITE = ("<!DOCTYPE html>\n<html>\n<head>\n<title>Apache2 Debian Default Page: It works</title>\n"
                       "</head>\n<body>\n<div class=\"main_page\">Apache2 Debian Default Page</div>\n"
                       "</body>\n</html>\n")

HAPROXY_404 = "<html><body><h1>404 Not Found</h1>\nThe resource could not be found.\n</body></html>\n"
HAPROXY_503 = ("<html><body><h1>503 Service Unavailable</h1>\nNo server is available to handle this request.\n"
               "</body></html>\n")
HAPROXY_HEADERS = {"content-length": "83", "cache-control": "no-cache", "content-type": "text/html"}

DJANGO_404 = ('<!doctype html>\n<html lang="en">\n<head>\n  <title>Not Found</title>\n</head>\n<body>\n'
              "  <h1>Not Found</h1><p>The requested resource was not found on this server.</p>\n</body>\n</html>\n")
PUBLIK_HEADERS = {"server": "nginx", "content-type": "text/html; charset=utf-8", "content-length": "179"}
AUTHENTIC_404 = ('<!DOCTYPE html>\n<html lang="fr">\n<head>\n<meta charset="utf-8">\n'
                 "<title>Authentic2 - connexion.example.test -  Erreur : page introuvable </title>\n</head>\n<body>\n"
                 '<div id="content">\n  <h2>Erreur : page introuvable</h2>\n'
                 "  <p>La page que vous recherchez n’a pas été trouvée sur ce serveur.\n</div>\n</body>\n</html>\n")
# A theme's own 404 page: nothing the judge knows, accepted (the services' page depends on the theme).
THEMED_404 = ('<!DOCTYPE html>\n<html lang="fr">\n<head><title>Page non trouvée</title></head>\n<body>\n'
              "<h1>Page non trouvée</h1>\n<p>Désolé, cette page n’existe pas.</p>\n</body>\n</html>\n")


contoso+
ada..lovelace@-fabrikam.comLovelace*UK$
Salesperson
salesperson
 Support"	has space
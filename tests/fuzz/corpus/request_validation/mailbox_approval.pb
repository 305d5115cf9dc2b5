
contoso%
ada@fabrikam.comAdaLovelace*FR(0
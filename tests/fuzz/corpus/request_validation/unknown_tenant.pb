
fabrikam%
ada@fabrikam.comAdaLovelace*DE
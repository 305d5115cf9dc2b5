
contoso,
ada@fabrikam.comAdaLove‮lace"*gbbell